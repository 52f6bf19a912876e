"""The upload size limit, enforced on the byte stream: 413 comes before the body is read.

Starlette parses a multipart form completely before a route runs, so a check inside the route
comes after the whole body was received and spooled. This ASGI middleware sits in front: a
declared ``Content-Length`` over the limit is answered at once without reading a byte of the body,
and a chunked body is counted as it arrives and cut off at the first chunk past the limit.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.errors import error_json

MULTIPART_SLACK_BYTES = 64 * 1024
"""Room for the multipart boundaries and the small form fields around the file."""


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit (FastAPI re-raises an
    ``HTTPException`` from form parsing, and the app's handler answers 413 in the error format)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit}-byte upload limit")


class UploadSizeLimit:
    """Limit request bodies of the listed ``(method, path)`` routes to ``max_bytes``."""

    def __init__(
        self, app: ASGIApp, *, routes: Collection[tuple[str, str]], max_bytes: int
    ) -> None:
        self.app = app
        self.routes = {(method.upper(), path.rstrip("/")) for method, path in routes}
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (
                scope["method"].upper(),
                scope["path"].rstrip("/"),
            )
            not in self.routes
        ):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = error_json(
                413,
                "too_large",
                f"the request body is {declared} bytes; the upload limit is {self.max_bytes} bytes",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
