"""The open dataset: every registered sound with its on-chain labels, filtered and paged, and the
JSONL export a retraining run pulls (CIDs to fetch and verify, labels with the model ids and
transactions that prove them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Label, Sound, SoundKind, SoundStatus
from backend.pipeline.sounds import SoundView, labels_by_sound, sound_view
from backend.pipeline.uploads import DATASET_LICENSE

MAX_PAGE = 500
EXPORT_BATCH = 500


@dataclass(frozen=True)
class DatasetFilter:
    kind: SoundKind | None = None
    label: str | None = None
    model_id: str | None = None
    contributor: str | None = None
    synthetic: bool | None = None


@dataclass(frozen=True)
class DatasetPage:
    items: list[SoundView]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.items)
        return end if end < self.total else None


def _query(filters: DatasetFilter):  # type: ignore[no-untyped-def]
    stmt = select(Sound).where(Sound.status == SoundStatus.REGISTERED)
    if filters.kind is not None:
        stmt = stmt.where(Sound.kind == filters.kind)
    if filters.synthetic is not None:
        stmt = stmt.where(Sound.synthetic.is_(filters.synthetic))
    if filters.contributor:
        stmt = stmt.where(func.lower(Sound.contributor_address) == filters.contributor.lower())
    if filters.label or filters.model_id:
        labelled = select(Label.sound_id)
        if filters.label:
            labelled = labelled.where(Label.label_name == filters.label)
        if filters.model_id:
            labelled = labelled.where(Label.model_id == filters.model_id.lower())
        stmt = stmt.where(Sound.id.in_(labelled))
    return stmt


def _ordered(stmt):  # type: ignore[no-untyped-def]
    return stmt.order_by(Sound.registered_block, Sound.registered_log_index, Sound.id)


def list_dataset(session: Session, filters: DatasetFilter, offset: int, limit: int) -> DatasetPage:
    """One page of registered sounds matching ``filters``, in chain order."""
    limit = max(1, min(limit, MAX_PAGE))
    stmt = _query(filters)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    sounds = list(session.execute(_ordered(stmt).offset(offset).limit(limit)).scalars())
    labels = labels_by_sound(session, [s.id for s in sounds])
    items = [sound_view(s, labels.get(s.id, [])) for s in sounds]
    return DatasetPage(items=items, total=total, offset=offset, limit=limit)


def export_record(view: SoundView) -> dict[str, object]:
    """One JSONL line of the export."""
    return {
        "cid": view.cid,
        "digest": view.id,
        "kind": view.kind.value,
        "synthetic": view.synthetic,
        "contributor": view.contributor,
        "contributor_label": view.contributor_label,
        "license": DATASET_LICENSE,
        "registered_tx_hash": view.registered_tx_hash,
        "duration_s": view.duration_s,
        "generator_model_id": view.generator_model_id,
        "labels": [
            {
                "model_id": label.model_id,
                "model_name": label.model_name,
                "task": label.task,
                "label": label.label,
                "label_index": label.label_index,
                "confidence_bps": label.confidence_bps,
                "tx_hash": label.tx_hash,
            }
            for label in view.labels
        ],
    }


def export_lines(session: Session, filters: DatasetFilter) -> Iterator[str]:
    """The export as JSONL lines (each ends with a newline), read in batches."""
    stmt = _ordered(_query(filters))
    offset = 0
    while True:
        sounds = list(session.execute(stmt.offset(offset).limit(EXPORT_BATCH)).scalars())
        if not sounds:
            return
        labels = labels_by_sound(session, [s.id for s in sounds])
        for sound in sounds:
            yield json.dumps(export_record(sound_view(sound, labels.get(sound.id, [])))) + "\n"
        offset += len(sounds)
