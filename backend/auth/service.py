"""Sign-in as one service call: what ``POST /v1/auth/verify`` does, callable without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.auth.nonces import NONCE_TTL, NonceState, NonceStore
from backend.auth.sessions import Session, issue_token
from backend.auth.siwe import SiweError, SiweFailure, SiweMessage, check_claims, verify_signature

CLOCK_SKEW = timedelta(seconds=60)


async def sign_in(
    text: str,
    signature: str,
    *,
    nonces: NonceStore,
    domain: str,
    chain_id: int,
    session_ttl: timedelta,
    secret: str,
    now: datetime | None = None,
) -> tuple[Session, str]:
    """Check a signed EIP-4361 message and open a session: returns it with its token.

    The nonce is consumed last, after the signature checks out, so a forged attempt cannot burn
    a real user's nonce. Raises :class:`SiweError` with the reason when sign-in is refused.
    """
    now = now or datetime.now(UTC)
    message = SiweMessage.parse(text)
    check_claims(
        message, domain=domain, chain_id=chain_id, now=now, max_age=NONCE_TTL, clock_skew=CLOCK_SKEW
    )
    verify_signature(text, message, signature)
    state = await nonces.consume(message.nonce)
    if state is NonceState.REPLAYED:
        raise SiweError(SiweFailure.NONCE_REPLAYED, "this nonce was already used to sign in")
    if state is NonceState.UNKNOWN:
        raise SiweError(
            SiweFailure.NONCE_UNKNOWN, "nonce was not issued by this server or has expired"
        )
    expires_at = now + session_ttl
    if message.expiration is not None:
        expires_at = min(expires_at, message.expiration)
    # the token carries whole seconds; report exactly what it carries
    session = Session(
        address=message.address,
        issued_at=now.replace(microsecond=0),
        expires_at=expires_at.replace(microsecond=0),
    )
    return session, issue_token(session, secret)
