"""Accepted work is never lost: registered sounds whose labelling stalled are queued again.

A message can vanish between the database and the broker: the indexer's enqueue fails while Redis
is down, or Redis restarts without persistence. The database still says what is owed: a recorded
sound registered on-chain whose upload job has not finished, or which has no job and no label at
all. ``requeue_stalled`` queues those again once they have been quiet for ``older_than_s``
(labelling is idempotent, so an extra message costs a check, never a second label).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import Job, JobKind, JobStage, Label, Sound, SoundStatus
from backend.pipeline.queue import TaskQueue

log = logging.getLogger(__name__)

_OPEN_STAGES = (JobStage.RECEIVED, JobStage.PINNED, JobStage.REGISTERED, JobStage.LABELLING)


def stalled_sound_ids(session: Session, older_than_s: float, limit: int = 100) -> list[str]:
    """Registered recorded sounds owed a label: an open job quiet since the cutoff, or no job
    and no label."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    registered = (Sound.status == SoundStatus.REGISTERED) & Sound.synthetic.is_(False)
    with_open_job = session.execute(
        select(Sound.id)
        .join(Job, (Job.sound_id == Sound.id) & (Job.kind == JobKind.UPLOAD))
        .where(registered, Job.stage.in_(_OPEN_STAGES), Job.updated_at < cutoff)
        .limit(limit)
    ).scalars()
    orphans = session.execute(
        select(Sound.id)
        .where(
            registered,
            Sound.created_at < cutoff,
            ~exists().where(Job.sound_id == Sound.id),
            ~exists().where(Label.sound_id == Sound.id),
        )
        .limit(limit)
    ).scalars()
    return sorted({*with_open_job, *orphans})


def requeue_stalled(
    sessions: sessionmaker[Session], queue: TaskQueue, older_than_s: float
) -> list[str]:
    """Queue ``label_sound`` again for every stalled sound; returns their ids.

    Each job's ``updated_at`` is touched, so the next sweep waits another ``older_than_s``.
    """
    with sessions() as session:
        sound_ids = stalled_sound_ids(session, older_than_s)
    queued = []
    for sound_id in sound_ids:
        queue.enqueue_label(sound_id)  # QueueUnavailable: stop, the next sweep tries again
        queued.append(sound_id)
        with sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.sound_id == sound_id, Job.stage.in_(_OPEN_STAGES))
                .values(updated_at=datetime.now(UTC))
            )
    if queued:
        log.info("re-queued labelling of %d stalled sound(s): %s", len(queued), queued)
    return queued
