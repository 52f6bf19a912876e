"""The one error shape every route answers with, and its OpenAPI documentation."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable reason", examples=["nonce_replayed"])
    message: str = Field(description="What went wrong, for a person")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="Per-field problems (validation errors only)"
    )


class ErrorResponse(BaseModel):
    """``{"error": {"code", "message"}}``: the body of every 4xx and 5xx answer."""

    error: ErrorBody


_DEFAULT_DESCRIPTIONS = {
    401: "Not signed in, or the sign-in was refused; `error.code` says why",
    403: "Signed in, but not allowed",
    404: "No such resource",
    409: "Conflicts with an existing resource",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "The request does not validate; `error.details` lists the fields",
    500: "Unexpected server error (details are in the server log, not here)",
    503: "A dependency (Redis, IPFS, chain, database) is not answering",
}


def error_responses(
    *statuses: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented with :class:`ErrorResponse`."""
    descriptions = descriptions or {}
    return {
        status: {
            "model": ErrorResponse,
            "description": descriptions.get(status)
            or _DEFAULT_DESCRIPTIONS.get(status)
            or HTTPStatus(status).phrase,
        }
        for status in statuses
    }


def json_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``error_responses`` for a streaming route, whose errors are still JSON (a route's own
    media type, ``text/event-stream`` say, would otherwise be documented for them too)."""
    ref = {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
    return {
        status: {"description": spec["description"], "content": {"application/json": ref}}
        for status, spec in error_responses(*statuses).items()
    }
