"""The ORM models as the upload and generation pipeline will use them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import (
    Contributor,
    GeneratedMeow,
    Job,
    JobEvent,
    JobKind,
    JobStage,
    Sound,
    SoundKind,
    SoundStatus,
)
from backend.db.session import make_engine

ADDRESS = "0x" + "AB" * 20
SOUND = "0x" + "12" * 32


def test_upload_job_with_stages_round_trips(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        with Session(engine) as s:
            contributor = Contributor(address=ADDRESS)
            sound = Sound(
                id=SOUND,
                cid="bafkreiexample",
                kind=SoundKind.INFANT,
                contributor=contributor,
                pinned_at=datetime.now(UTC),
                size_bytes=80_000,
                duration_s=2.5,
            )
            job = Job(kind=JobKind.UPLOAD, stage=JobStage.PINNED, sound=sound)
            s.add_all([contributor, sound, job])
            s.flush()
            for seq, stage in enumerate([JobStage.RECEIVED, JobStage.PINNED], start=1):
                s.add(JobEvent(job_id=job.id, seq=seq, stage=stage, data={"cid": sound.cid}))
            s.add(
                GeneratedMeow(
                    sound_id=SOUND, method="wavenet", model_id="0x" + "34" * 32, mood="happy"
                )
            )
            s.commit()
            job_id = job.id

        with Session(engine) as s:
            job = s.get(Job, job_id)
            assert job is not None and job.sound is not None
            assert job.sound.status is SoundStatus.PINNED and job.sound.kind is SoundKind.INFANT
            assert [e.stage for e in job.events] == [JobStage.RECEIVED, JobStage.PINNED]
            assert job.events[1].data == {"cid": "bafkreiexample"}
            meow = s.scalar(select(GeneratedMeow))
            assert meow is not None and meow.sound.id == SOUND and len(meow.id) == 36

        with pytest.raises(IntegrityError), Session(engine) as s:  # one event per (job, seq)
            s.add(JobEvent(job_id=job_id, seq=2, stage=JobStage.FAILED, data=None))
            s.commit()
    finally:
        engine.dispose()
