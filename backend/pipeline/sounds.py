"""Reading sounds with their labels: what ``GET /v1/sounds/{id}``, the dataset and the export show."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Label, RegisteredModel, Sound, SoundKind, SoundStatus
from backend.pipeline.jobs import upload_job_for_sound


class SoundNotFound(LookupError):
    """No sound with that id (content digest)."""


class InvalidSoundId(ValueError):
    """Not a sound id: a sound id is ``0x`` + 64 hex digits (the sha256 of the audio)."""


@dataclass(frozen=True)
class LabelView:
    model_id: str
    model_name: str
    task: str
    label: str
    label_index: int
    confidence_bps: int
    tx_hash: str
    block_number: int
    labeller: str


@dataclass(frozen=True)
class SoundView:
    id: str
    cid: str
    kind: SoundKind
    synthetic: bool
    contributor: str
    contributor_label: str
    status: SoundStatus
    duration_s: float | None
    size_bytes: int | None
    media_type: str | None
    registered_tx_hash: str | None
    registered_block: int | None
    generator_model_id: str | None
    job_id: str | None = None
    labels: list[LabelView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cid": self.cid,
            "kind": self.kind.value,
            "synthetic": self.synthetic,
            "contributor": self.contributor,
            "contributor_label": self.contributor_label,
            "status": self.status.value,
            "duration_s": self.duration_s,
            "size_bytes": self.size_bytes,
            "media_type": self.media_type,
            "registered_tx_hash": self.registered_tx_hash,
            "registered_block": self.registered_block,
            "generator_model_id": self.generator_model_id,
            "job_id": self.job_id,
            "labels": [vars(label) for label in self.labels],
        }


def normalize_sound_id(value: str) -> str:
    """``0x`` + 64 lowercase hex digits; also accepts the bare hex digest."""
    text = value.lower().removeprefix("0x")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InvalidSoundId(f"{value!r} is not a sound id (a sha256 digest: 64 hex digits)")
    return "0x" + text


def labels_by_sound(session: Session, sound_ids: list[str]) -> dict[str, list[LabelView]]:
    """Each sound's on-chain labels (as indexed), oldest first."""
    if not sound_ids:
        return {}
    rows = session.execute(
        select(Label, RegisteredModel)
        .join(RegisteredModel, RegisteredModel.id == Label.model_id)
        .where(Label.sound_id.in_(sound_ids))
        .order_by(Label.block_number, Label.log_index)
    ).all()
    out: dict[str, list[LabelView]] = defaultdict(list)
    for label, model in rows:
        out[label.sound_id].append(
            LabelView(
                model_id=label.model_id,
                model_name=model.name,
                task=model.task,
                label=label.label_name,
                label_index=label.label_index,
                confidence_bps=label.confidence_bps,
                tx_hash=label.tx_hash,
                block_number=label.block_number,
                labeller=label.labeller,
            )
        )
    return out


def sound_view(sound: Sound, labels: list[LabelView], job_id: str | None = None) -> SoundView:
    return SoundView(
        id=sound.id,
        cid=sound.cid,
        kind=sound.kind,
        synthetic=sound.synthetic,
        contributor=sound.contributor_address,
        contributor_label=sound.contributor_label,
        status=sound.status,
        duration_s=sound.duration_s,
        size_bytes=sound.size_bytes,
        media_type=sound.media_type,
        registered_tx_hash=sound.registered_tx_hash,
        registered_block=sound.registered_block,
        generator_model_id=sound.generator_model_id,
        job_id=job_id,
        labels=labels,
    )


def get_sound(session: Session, sound_id: str) -> SoundView:
    """The sound, its labels and its newest upload job; ``SoundNotFound`` when unknown."""
    sound_id = normalize_sound_id(sound_id)
    sound = session.get(Sound, sound_id)
    if sound is None:
        raise SoundNotFound(f"no sound {sound_id}")
    job = upload_job_for_sound(session, sound_id)
    return sound_view(sound, labels_by_sound(session, [sound_id]).get(sound_id, []), job and job.id)
