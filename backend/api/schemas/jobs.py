"""Models of the ``/v1/jobs`` routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backend.db.models import JobKind, JobStage


class JobEventOut(BaseModel):
    """One stage of a job; the SSE stream sends these as ``event: <stage>``, ``id: <seq>``."""

    seq: int
    stage: JobStage
    data: dict[str, Any] = Field(
        description="pinned: cid; registered: tx_hash; labelled: label, confidence, tx_hash, "
        "labels, flagged; failed: reason"
    )
    at: str = Field(description="When it was recorded (ISO 8601)")


class JobOut(BaseModel):
    id: str
    kind: JobKind
    stage: JobStage
    sound_id: str | None
    owner: str | None
    error: str | None
    result: dict[str, Any] | None
    created_at: str
    updated_at: str
    events: list[JobEventOut]
