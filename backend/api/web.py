"""The DApp page: the built front end (``web/dist``, made by ``npm run build:web``) served at ``/``.

The page is served where no route matched: the app's 404 handler is wrapped so that a ``GET``
outside ``/v1`` answers with ``index.html`` (at ``/``) or the build's file of that path. No route
shadows the API: an unknown API path stays a JSON 404, a wrong method stays a 405 naming the
route's methods, and routes added later still win. Without a build, ``/`` answers 404 saying how
to build the page, so a missing build is an explained gap, not a blank screen.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from backend.settings import REPO_ROOT

WEB_DIST = REPO_ROOT / "web" / "dist"
API_PREFIX = "/v1"


def web_file(dist: Path, path: str) -> Path | None:
    """The build's file for a request path, or None (``/`` is ``index.html``)."""
    root = dist.resolve()
    relative = path.lstrip("/") or "index.html"
    file = (root / relative).resolve()
    return file if file.is_relative_to(root) and file.is_file() else None


def mount_web(app: FastAPI, dist: Path = WEB_DIST) -> None:
    """Answer unmatched ``GET`` requests outside ``/v1`` from ``dist``."""
    not_found = app.exception_handlers[HTTPException]

    async def page_or_error(request: Request, exc: Exception) -> Response:
        path = request.url.path
        is_page = (
            isinstance(exc, HTTPException)
            and exc.status_code == 404
            and request.method in ("GET", "HEAD")
            and not (path == API_PREFIX or path.startswith(API_PREFIX + "/"))
        )
        if is_page:
            file = web_file(dist, path)
            if file is not None:
                cache = "no-cache" if file.name == "index.html" else "public, max-age=3600"
                return FileResponse(file, headers={"Cache-Control": cache})
            if path == "/":
                return PlainTextResponse(
                    f"The DApp page is not built ({dist} has no index.html): run `make setup`, "
                    "or `npm run build:web`. The API is at /v1 (docs at /v1/docs).",
                    status_code=404,
                )
        return await not_found(request, exc)

    app.add_exception_handler(HTTPException, page_or_error)
