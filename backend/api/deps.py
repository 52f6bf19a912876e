"""Request dependencies, as ``Annotated`` aliases a route names in its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from backend.api.errors import ApiError
from backend.auth.nonces import NonceStore
from backend.auth.sessions import Session, SessionError, read_token
from backend.settings import Settings

SESSION_COOKIE = "miao_session"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="The `token` from `POST /v1/auth/verify`, as `Authorization: Bearer <token>`",
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="HTTP-only cookie set by `POST /v1/auth/verify` (browsers)",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


def get_nonce_store(request: Request) -> NonceStore:
    return request.app.state.nonces


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
NonceStoreDep = Annotated[NonceStore, Depends(get_nonce_store)]


def get_current_session(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Session:
    """The caller's session from the bearer token, else the cookie; 401 when neither is valid."""
    token = bearer.credentials if bearer else cookie
    challenge = {"WWW-Authenticate": "Bearer"}
    if not token:
        raise ApiError(
            401,
            "not_authenticated",
            "sign in first: POST /v1/auth/verify, then send the bearer token or the cookie",
            headers=challenge,
        )
    try:
        return read_token(token, settings.session_secret)
    except SessionError as exc:
        raise ApiError(401, exc.reason.value, exc.message, headers=challenge) from exc


CurrentSession = Annotated[Session, Depends(get_current_session)]


def get_current_address(session: CurrentSession) -> str:
    return session.address


CurrentAddress = Annotated[str, Depends(get_current_address)]
