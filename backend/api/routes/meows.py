"""``/v1/meows``: generate a meow in a mood, read meows back, mint one as an NFT."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Response

from backend.api.deps import CurrentAddress, SettingsDep
from backend.api.pipeline_deps import (
    MinterNftDep,
    NotifyDep,
    RedisUp,
    SessionsDep,
    TaskQueueDep,
)
from backend.api.schemas.errors import error_responses
from backend.api.schemas.meows import (
    GenerationAccepted,
    MeowOut,
    MeowPage,
    MeowRequest,
    MintAccepted,
    MintRequest,
    MoodsOut,
    VoucherOut,
)
from backend.chain.values import hex0x
from backend.pipeline.generation import known_moods, request_meow
from backend.pipeline.meows import get_meow, list_meows
from backend.pipeline.minting import SERVER, issue_voucher, request_server_mint

router = APIRouter(prefix="/meows", tags=["meows"])

MAX_PAGE = 200


def events_url(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/events"


@router.get("/moods", response_model=MoodsOut, summary="The moods a meow can be generated in")
async def moods() -> MoodsOut:
    return MoodsOut(moods=await asyncio.to_thread(known_moods))


@router.post(
    "",
    status_code=202,
    response_model=GenerationAccepted,
    responses=error_responses(
        401, 422, 503, descriptions={422: "Unknown mood, bad length or seed"}
    ),
    summary="Generate a meow in a mood: a job (WaveNet → pinned → registered as synthetic)",
)
def create_meow(
    body: MeowRequest,
    address: CurrentAddress,
    sessions: SessionsDep,
    queue: TaskQueueDep,
    notify: NotifyDep,
    _redis: RedisUp,
) -> GenerationAccepted:
    job_id = request_meow(
        sessions, queue, owner=address, mood=body.mood, seconds=body.seconds, seed=body.seed,
        notify=notify,
    )  # fmt: skip
    return GenerationAccepted(job_id=job_id, events_url=events_url(job_id))


@router.get("", response_model=MeowPage, responses=error_responses(422), summary="Generated meows")
def read_meows(
    sessions: SessionsDep,
    creator: str | None = Query(None, description="Only this address's meows"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> MeowPage:
    with sessions() as session:
        views = list_meows(session, creator=creator, offset=offset, limit=limit)
    items = [MeowOut.model_validate(v.as_dict()) for v in views]
    return MeowPage(items=items, offset=offset, limit=limit)


@router.get(
    "/{meow_id}",
    response_model=MeowOut,
    responses=error_responses(404, 422),
    summary="A generated meow: its files, model, creator, and its token once minted",
)
def read_meow(meow_id: str, sessions: SessionsDep) -> MeowOut:
    with sessions() as session:
        return MeowOut.model_validate(get_meow(session, meow_id).as_dict())


@router.post(
    "/{meow_id}/mint",
    response_model=MintAccepted,
    responses={
        202: {"model": MintAccepted, "description": "server: the mint job"},
        **error_responses(
            401,
            403,
            404,
            409,
            422,
            503,
            descriptions={
                403: "Only the meow's creator mints it",
                409: "Not on-chain yet, minted already, or being minted the other way",
            },
        ),
    },
    summary="Mint a meow: by the server (a job), or a voucher you redeem from your wallet",
)
def mint_meow(
    meow_id: str,
    body: MintRequest,
    address: CurrentAddress,
    settings: SettingsDep,
    sessions: SessionsDep,
    queue: TaskQueueDep,
    nft: MinterNftDep,
    notify: NotifyDep,
    response: Response,
) -> MintAccepted:
    to = body.to or address
    if body.mode == SERVER:
        response.status_code = 202
        job_id = request_server_mint(
            sessions, queue, meow_id=meow_id, caller=address, to=to, notify=notify
        )
        return MintAccepted(mode="server", job_id=job_id, events_url=events_url(job_id))
    issued = issue_voucher(
        sessions, nft, meow_id=meow_id, caller=address, to=to, ttl_s=settings.voucher_ttl_s
    )
    v = issued.signed.voucher
    return MintAccepted(
        mode="voucher",
        voucher=VoucherOut(
            recipient=v.recipient,
            tokenURI=v.token_uri,
            sourceSoundId=hex0x(v.source_sound_id),
            voucherId=str(v.voucher_id),
            deadline=v.deadline,
        ),
        typed_data=issued.signed.typed_data,
        signature=hex0x(issued.signed.signature),
        contract=issued.contract,
    )
