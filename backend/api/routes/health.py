"""``GET /v1/health``: is the API up, and which of its dependencies answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.api.health import run_health_checks
from backend.api.schemas.health import DependencyHealth, HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Liveness (always 200 while the API runs) and which dependencies answer",
)
async def health(request: Request) -> HealthResponse:
    results = await run_health_checks(request)
    return HealthResponse(
        status="ok" if all(r.ok for r in results.values()) else "degraded",
        version=request.app.version,
        checks={
            name: DependencyHealth(ok=r.ok, latency_ms=r.latency_ms, detail=r.detail)
            for name, r in results.items()
        },
    )
