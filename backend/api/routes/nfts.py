"""``/v1/nfts``: MeowNFT tokens as indexed from the chain, with the meow each comes from."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from backend.api.pipeline_deps import SessionsDep
from backend.api.schemas.errors import error_responses
from backend.api.schemas.meows import NftOut, NftPage
from backend.pipeline.meows import get_nft, list_nfts

router = APIRouter(prefix="/nfts", tags=["nfts"])

MAX_PAGE = 200


@router.get("", response_model=NftPage, responses=error_responses(422), summary="Minted tokens")
def read_nfts(
    sessions: SessionsDep,
    owner: str | None = Query(None, description="Only this address's tokens (my NFTs)"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> NftPage:
    with sessions() as session:
        views = list_nfts(session, owner=owner, offset=offset, limit=limit)
    return NftPage(
        items=[NftOut.model_validate(vars(v)) for v in views], offset=offset, limit=limit
    )


@router.get(
    "/{token_id}",
    response_model=NftOut,
    responses=error_responses(404, 422),
    summary="One token: owner, token URI (ipfs://metadata), source sound, the meow",
)
def read_nft(sessions: SessionsDep, token_id: int = Path(ge=1)) -> NftOut:
    with sessions() as session:
        return NftOut.model_validate(vars(get_nft(session, token_id)))
