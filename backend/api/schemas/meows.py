"""Models of the ``/v1/meows``, ``/v1/style-transfer``, ``/v1/nfts`` and ``/v1/chain`` routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MeowRequest(BaseModel):
    mood: str = Field(
        examples=["happy"], description="A mood from GET /v1/meows/moods (or its naya label)"
    )
    seconds: float = Field(2.0, ge=0.1, le=10.0, description="Length of the meow")
    seed: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Same seed, mood and length = the same meow"
    )


class GenerationAccepted(BaseModel):
    job_id: str
    events_url: str = Field(description="Server-sent progress: GET /v1/jobs/{job_id}/events")
    input_cid: str | None = Field(None, description="Style transfer: the pinned voice")


class MoodsOut(BaseModel):
    moods: list[str]


class NftOut(BaseModel):
    token_id: int
    owner: str
    minted_to: str
    source_sound_id: str
    token_uri: str = Field(description="ipfs://<metadata CID>")
    voucher_id: str = Field(description="The redeemed voucher (decimal); 0 for a server mint")
    minted_tx_hash: str
    minted_block: int
    meow_id: str | None


class MeowOut(BaseModel):
    id: str
    method: Literal["wavenet", "style_transfer"]
    mood: str | None
    seed: int | None
    model_id: str = Field(description="sha256 of the generating model's weights (0x hex)")
    sound_id: str = Field(description="The synthetic sound's content digest (on-chain id)")
    audio_cid: str
    image_cid: str | None = Field(description="The spectrogram PNG")
    metadata_cid: str | None = Field(description="The ERC-721 metadata JSON")
    token_uri: str | None
    creator: str
    job_id: str | None
    source_sound_id: str | None = Field(description="Style transfer: sha256 of the voice")
    duration_s: float | None
    registered: bool
    registered_tx_hash: str | None
    created_at: str
    mint_mode: Literal["server", "voucher"] | None
    mint_job_id: str | None
    tokens: list[NftOut]


class MeowPage(BaseModel):
    items: list[MeowOut]
    offset: int
    limit: int


class NftPage(BaseModel):
    items: list[NftOut]
    offset: int
    limit: int


class MintRequest(BaseModel):
    mode: Literal["server", "voucher"] = Field(
        description="server: the backend mints (MINTER_ROLE pays); voucher: you redeem from "
        "your wallet and pay the gas"
    )
    to: str | None = Field(
        None, description="The token's owner (a voucher's recipient); default you"
    )


class VoucherOut(BaseModel):
    recipient: str
    tokenURI: str
    sourceSoundId: str
    voucherId: str = Field(description="uint256 as decimal text")
    deadline: int


class MintAccepted(BaseModel):
    mode: Literal["server", "voucher"]
    job_id: str | None = Field(None, description="server: follow GET /v1/jobs/{job_id}/events")
    events_url: str | None = None
    voucher: VoucherOut | None = Field(
        None, description="voucher: call MeowNFT.redeem(voucher, signature) from `recipient`"
    )
    typed_data: dict[str, Any] | None = Field(None, description="voucher: what the minter signed")
    signature: str | None = None
    contract: str | None = Field(None, description="The MeowNFT address")


class ChainOut(BaseModel):
    chain_id: int
    rpc_url: str
    sound_registry: str
    meow_nft: str
    block_number: int = Field(description="Where the deployment starts")
