"""Every failure as ``{"error": {"code", "message"}}`` with the right status.

Routes raise :class:`ApiError`, or let a domain exception through that :func:`map_error` has
mapped to a status and code; framework errors (unknown route, bad method, validation) and
unexpected exceptions are rewritten into the same shape here. A 500 never carries a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.auth.nonces import NonceStoreUnavailable
from backend.auth.siwe import SiweError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a route means to return: status, code and a message for a person."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_json(
    status_code: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=dict(headers or {}))


def _code_for_status(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_json(exc.status_code, exc.code, exc.message, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_json(
        exc.status_code, _code_for_status(exc.status_code), message, headers=exc.headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:3])
    return error_json(422, "validation_error", f"invalid request: {summary}", details=details)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_json(500, "internal_error", "internal server error")


def map_error(
    app: FastAPI,
    exc_type: type[Exception],
    status_code: int,
    code: str | Callable[[Exception], str],
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer a domain exception with this status and code, its ``str()`` as the message.

    How later routers plug their services in: e.g. an IPFS client's "node down" error to 503.
    """

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        error_code = code(exc) if callable(code) else code
        return error_json(status_code, error_code, str(exc), headers=headers)

    app.add_exception_handler(exc_type, handler)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
    map_error(
        app,
        SiweError,
        401,
        lambda exc: str(getattr(exc, "reason", "sign_in_refused")),
        headers={"WWW-Authenticate": "Bearer"},
    )
    map_error(app, NonceStoreUnavailable, 503, "redis_unavailable")
    map_error(app, RedisConnectionError, 503, "redis_unavailable")
    map_error(app, RedisTimeoutError, 503, "redis_unavailable")
