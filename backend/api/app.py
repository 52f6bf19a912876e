"""The FastAPI application: ``create_app(settings)`` wires settings, Redis, errors, CORS, routers.

Every route lives under ``/v1``, one router per resource in :data:`ROUTERS`; a new resource adds
its router there. ``backend.app:app`` is the instance ``uvicorn`` serves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from backend.api.errors import install_error_handlers
from backend.api.health import HealthCheck, default_health_checks
from backend.api.pipeline_errors import install_pipeline_error_handlers
from backend.api.routes import (
    analyze,
    auth,
    chain,
    dataset,
    health,
    ipfs,
    jobs,
    meows,
    nfts,
    sounds,
    style_transfer,
)
from backend.api.schemas.errors import error_responses
from backend.api.upload_limit import MULTIPART_SLACK_BYTES, UploadSizeLimit
from backend.api.web import mount_web
from backend.auth.nonces import NonceStore
from backend.settings import DEV_SESSION_SECRET, Settings, get_settings

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    sounds.router,
    jobs.router,
    dataset.router,
    analyze.router,
    meows.router,
    style_transfer.router,
    nfts.router,
    chain.router,
    ipfs.router,
]

# A request that needs Redis fails fast (503) when it is down, instead of hanging.
_REDIS_CONNECT_TIMEOUT_S = 1.0
_REDIS_TIMEOUT_S = 3.0


def _version() -> str:
    try:
        return version("miao-ai")
    except PackageNotFoundError:
        return "0.0.0"


def _redis_client(url: str) -> Redis:
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=_REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=_REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), retries=1),
    )


def create_app(
    settings: Settings | None = None,
    *,
    health_checks: Mapping[str, HealthCheck] | None = None,
) -> FastAPI:
    """A new app for these settings (tests build one per configuration)."""
    settings = settings or get_settings()
    if settings.session_secret == DEV_SESSION_SECRET:
        log.warning(
            "MIAO_SESSION_SECRET is not set: session tokens are signed with the public dev "
            "default; set it to a long random string anywhere but your own machine"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = _redis_client(settings.redis_url)
        app.state.redis = redis
        app.state.nonces = NonceStore(redis)
        try:
            yield
        finally:
            await redis.aclose()

    app = FastAPI(
        title="MIAO AI API",
        version=_version(),
        description=(
            "Gateway of MIAO AI: wallet sign-in (EIP-4361), sound uploads, labelling jobs, the "
            'open dataset. Errors are `{"error": {"code", "message"}}`.'
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.health_checks = dict(
        default_health_checks() if health_checks is None else health_checks
    )
    install_error_handlers(app)
    install_pipeline_error_handlers(app)
    app.add_middleware(
        UploadSizeLimit,
        routes=[
            ("POST", f"{API_PREFIX}/sounds"),
            ("POST", f"{API_PREFIX}/analyze"),
            ("POST", f"{API_PREFIX}/style-transfer"),
        ],
        max_bytes=settings.max_upload_mb * 1024 * 1024 + MULTIPART_SLACK_BYTES,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,  # the session cookie
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    v1 = APIRouter(prefix=API_PREFIX, responses=error_responses(500))
    for router in ROUTERS:
        v1.include_router(router)
    app.include_router(v1)
    mount_web(app)
    return app
