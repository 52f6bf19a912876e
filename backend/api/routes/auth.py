"""``/v1/auth``: wallet sign-in with EIP-4361 (Sign-In with Ethereum) and the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response

from backend.api.deps import SESSION_COOKIE, CurrentSession, NonceStoreDep, SettingsDep
from backend.api.schemas.auth import (
    LogoutResponse,
    MeResponse,
    NonceResponse,
    SessionResponse,
    VerifyRequest,
)
from backend.api.schemas.errors import error_responses
from backend.auth.service import sign_in

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get(
    "/nonce",
    response_model=NonceResponse,
    responses=error_responses(503, descriptions={503: "Redis (the nonce store) is not answering"}),
    summary="A single-use nonce for a sign-in message (valid 5 minutes)",
)
async def get_nonce(settings: SettingsDep, nonces: NonceStoreDep) -> NonceResponse:
    issued = await nonces.issue()
    return NonceResponse(
        nonce=issued.nonce,
        expires_at=issued.expires_at,
        domain=settings.siwe_domain,
        chain_id=settings.chain_id,
    )


@router.post(
    "/verify",
    response_model=SessionResponse,
    responses=error_responses(
        401,
        422,
        503,
        descriptions={
            401: "Sign-in refused; `error.code` is one of: malformed_message, bad_signature, "
            "wrong_domain, wrong_chain, message_expired, message_not_yet_valid, "
            "issued_in_future, message_too_old, nonce_unknown, nonce_replayed",
            503: "Redis (the nonce store) is not answering",
        },
    ),
    summary="Check a signed EIP-4361 message and open a session",
)
async def verify(
    body: VerifyRequest, response: Response, settings: SettingsDep, nonces: NonceStoreDep
) -> SessionResponse:
    session, token = await sign_in(
        body.message,
        body.signature,
        nonces=nonces,
        domain=settings.siwe_domain,
        chain_id=settings.chain_id,
        session_ttl=timedelta(seconds=settings.session_ttl_s),
        secret=settings.session_secret,
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(0, int((session.expires_at - datetime.now(UTC)).total_seconds())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )
    return SessionResponse(token=token, address=session.address, expires_at=session.expires_at)


@router.get(
    "/me",
    response_model=MeResponse,
    responses=error_responses(401),
    summary="The signed-in address",
)
async def me(session: CurrentSession) -> MeResponse:
    return MeResponse(address=session.address, expires_at=session.expires_at)


@router.post(
    "/logout",
    response_model=LogoutResponse,
    summary="Clear the session cookie (a copied bearer token stays valid until it expires)",
)
async def logout(response: Response, settings: SettingsDep) -> LogoutResponse:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
    )
    return LogoutResponse(signed_out=True)
