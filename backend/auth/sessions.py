"""Stateless session tokens: the signed-in address and an expiry, signed with HMAC-SHA256.

Format: ``<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "miao-session.v1." + claims))>``.
The same token travels as a bearer token or in the HTTP-only cookie. Nothing is stored server
side, so signing out clears the cookie and a copied token stays valid until it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from eth_utils import is_checksum_address

_DOMAIN_TAG = b"miao-session.v1."


class SessionFailure(StrEnum):
    INVALID = "invalid_session"
    EXPIRED = "session_expired"


class SessionError(Exception):
    def __init__(self, reason: SessionFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Session:
    address: str
    issued_at: datetime
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, claims_b64: str) -> bytes:
    return hmac.new(secret.encode(), _DOMAIN_TAG + claims_b64.encode(), hashlib.sha256).digest()


def issue_token(session: Session, secret: str) -> str:
    claims = {
        "sub": session.address,
        "iat": int(session.issued_at.timestamp()),
        "exp": int(session.expires_at.timestamp()),
    }
    claims_b64 = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{claims_b64}.{_b64encode(_mac(secret, claims_b64))}"


def read_token(token: str, secret: str, *, now: datetime | None = None) -> Session:
    """The session a token carries, if its MAC is ours and it has not expired."""
    now = now or datetime.now(UTC)
    try:
        claims_b64, mac_b64 = token.split(".")
        mac = _b64decode(mac_b64)
    except (ValueError, binascii.Error) as exc:
        raise SessionError(SessionFailure.INVALID, "session token is not well formed") from exc
    if not hmac.compare_digest(mac, _mac(secret, claims_b64)):
        raise SessionError(SessionFailure.INVALID, "session token signature does not match")
    try:
        claims = json.loads(_b64decode(claims_b64))
        address, iat, exp = claims["sub"], int(claims["iat"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SessionError(SessionFailure.INVALID, "session token claims are unreadable") from exc
    if not isinstance(address, str) or not is_checksum_address(address):
        raise SessionError(SessionFailure.INVALID, "session token has no valid address")
    expires_at = datetime.fromtimestamp(exp, UTC)
    if now >= expires_at:
        raise SessionError(SessionFailure.EXPIRED, "session has expired: sign in again")
    return Session(address, datetime.fromtimestamp(iat, UTC), expires_at)
