"""Models of the ``/v1/auth`` routes (EIP-4361 sign-in and sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


def _address_field() -> Any:
    return Field(
        description="EIP-55 checksummed address",
        examples=["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
    )


class NonceResponse(BaseModel):
    nonce: str = Field(description="Single-use; put it in the message's `Nonce:` line")
    expires_at: datetime = Field(description="The nonce is refused after this time")
    domain: str = Field(
        description="The `domain` the message must name", examples=["localhost:8000"]
    )
    chain_id: int = Field(description="The `Chain ID` the message must name", examples=[31337])


class VerifyRequest(BaseModel):
    message: str = Field(
        min_length=1,
        max_length=8192,
        description="The EIP-4361 message exactly as the wallet signed it",
    )
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="65-byte EIP-191 `personal_sign` signature, 0x-prefixed hex",
    )


class SessionResponse(BaseModel):
    token: str = Field(description="Bearer token (the same value is set as an HTTP-only cookie)")
    address: str = _address_field()
    expires_at: datetime


class MeResponse(BaseModel):
    address: str = _address_field()
    expires_at: datetime = Field(description="When this session ends")


class LogoutResponse(BaseModel):
    signed_out: bool = Field(description="Always true: the session cookie was cleared")
