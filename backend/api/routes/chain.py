"""``/v1/chain``: which chain and contracts this backend uses (for wallets and direct calls)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import SettingsDep
from backend.api.pipeline_deps import DeploymentDep
from backend.api.schemas.errors import error_responses
from backend.api.schemas.meows import ChainOut

router = APIRouter(prefix="/chain", tags=["chain"])


@router.get(
    "",
    response_model=ChainOut,
    responses=error_responses(503, descriptions={503: "The contracts are not deployed yet"}),
    summary="The chain id, RPC URL and contract addresses (ABIs: contracts/artifacts)",
)
def read_chain(settings: SettingsDep, deployment: DeploymentDep) -> ChainOut:
    return ChainOut(
        chain_id=deployment.chain_id,
        rpc_url=settings.chain_rpc_url,
        sound_registry=deployment.sound_registry,
        meow_nft=deployment.meow_nft,
        block_number=deployment.block_number,
    )
