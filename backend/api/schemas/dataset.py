"""Models of the ``/v1/dataset`` routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.api.schemas.sounds import SoundOut
from backend.db.models import SoundKind


class DatasetPage(BaseModel):
    items: list[SoundOut]
    total: int = Field(description="Sounds matching the filters")
    offset: int
    limit: int
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null at end")


class ExportLabel(BaseModel):
    model_id: str
    model_name: str
    task: str
    label: str
    label_index: int
    confidence_bps: int
    tx_hash: str


class ExportRecord(BaseModel):
    """One line of the JSONL export."""

    cid: str
    digest: str
    kind: SoundKind
    synthetic: bool
    contributor: str
    contributor_label: str
    license: str
    registered_tx_hash: str | None
    duration_s: float | None
    generator_model_id: str | None
    labels: list[ExportLabel]
