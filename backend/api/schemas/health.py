"""Models of ``GET /v1/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DependencyHealth(BaseModel):
    ok: bool
    latency_ms: float = Field(description="How long the check took")
    detail: str = Field(description="What answered, or why it did not")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="`ok` when every dependency answers, else `degraded`"
    )
    version: str
    checks: dict[str, DependencyHealth] = Field(
        description="One entry per dependency: chain, ipfs, redis, database"
    )
