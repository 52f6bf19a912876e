"""Models of the ``/v1/sounds`` routes: uploads, relayed registration, reading a sound."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backend.db.models import SoundKind, SoundStatus


class LabelOut(BaseModel):
    """A model's on-chain label for a sound."""

    model_id: str = Field(description="sha256 of the model's weights file (0x hex)")
    model_name: str
    task: str = Field(examples=["cat-emotion"])
    label: str = Field(examples=["happy"])
    label_index: int
    confidence_bps: int = Field(description="Confidence in basis points (10000 = certain)")
    tx_hash: str = Field(description="The setLabel transaction")
    block_number: int
    labeller: str = Field(description="The account that sent setLabel")


class SoundOut(BaseModel):
    id: str = Field(description="Content digest: 0x + sha256 of the audio bytes")
    cid: str = Field(description="IPFS CIDv1 of the audio")
    kind: SoundKind
    synthetic: bool
    contributor: str
    contributor_label: str
    status: SoundStatus = Field(description="`pinned` until the registration is indexed")
    duration_s: float | None
    size_bytes: int | None
    media_type: str | None
    registered_tx_hash: str | None
    registered_block: int | None
    generator_model_id: str | None
    job_id: str | None = Field(description="The newest upload job of this sound, if any")
    labels: list[LabelOut]


class UploadResponse(BaseModel):
    sound_id: str = Field(description="Content digest (0x + sha256), the on-chain sound id")
    cid: str
    job_id: str = Field(description="Follow it at GET /v1/jobs/{job_id}/events")
    kind: SoundKind
    duration_s: float
    format: str = Field(examples=["wav"])
    size_bytes: int
    typed_data: dict[str, Any] = Field(
        description="EIP-712 RegisterSound typed data: sign it with eth_signTypedData_v4 and "
        "POST the signature to register_url"
    )
    register_url: str
    license: str = Field(description="The licence the sound joins the open dataset under")


class RegistrationTypedData(BaseModel):
    sound_id: str
    typed_data: dict[str, Any]


class SignedMessage(BaseModel):
    """The nonce and deadline of the typed data that was signed."""

    nonce: int | str
    deadline: int | str


class RegisterRequest(BaseModel):
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="65-byte EIP-712 signature of the upload's typed data (0x hex)",
    )
    message: SignedMessage | None = Field(
        default=None,
        description="The signed typed data's `message` (its nonce and deadline); default: the "
        "typed data the upload returned",
    )


class RegisterResponse(BaseModel):
    sound_id: str
    job_id: str | None
    tx_hash: str = Field(description="The registerSoundFor transaction (mined)")
    block_number: int
    contributor: str
