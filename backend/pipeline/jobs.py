"""Jobs: one row per piece of work a person waits on, and its stages as an append-only event log.

Stages only move forward (received < generating < pinned < registered < labelling < labelled;
``failed`` ends a job from any stage). Where a job ends depends on its kind: an upload at
``labelled``, a generated meow at ``registered`` (it is on-chain and mintable), a mint at
``minted``. Long stages also record progress events (the same stage again, with ``progress`` in
its data) without moving the stage. So two writers that learn of
the same stage (the relay route and the worker both see a registration) leave it once, in order.
The database is the record SSE streams read; a Redis ``PUBLISH`` after each commit only wakes
those streams early (a lost one costs a poll interval, never an event).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import Job, JobEvent, JobKind, JobStage

log = logging.getLogger(__name__)

STAGE_RANK: dict[JobStage, int] = {
    JobStage.RECEIVED: 0,
    JobStage.GENERATING: 1,
    JobStage.PINNED: 2,
    JobStage.REGISTERED: 3,
    JobStage.LABELLING: 4,
    JobStage.LABELLED: 5,
    JobStage.MINTED: 5,
    JobStage.FAILED: 6,
}
TERMINAL_STAGES: dict[JobKind, frozenset[JobStage]] = {
    JobKind.UPLOAD: frozenset({JobStage.LABELLED, JobStage.FAILED}),
    JobKind.MEOW: frozenset({JobStage.REGISTERED, JobStage.FAILED}),
    JobKind.STYLE_TRANSFER: frozenset({JobStage.REGISTERED, JobStage.FAILED}),
    JobKind.MINT: frozenset({JobStage.MINTED, JobStage.FAILED}),
}
"""The stages that end a job of each kind: nothing is recorded after them."""


def is_terminal(kind: JobKind, stage: JobStage) -> bool:
    return stage in TERMINAL_STAGES[kind]


JOB_CHANNEL_PREFIX = "miao:job:"
"""Redis pub/sub channel ``miao:job:<job id>``: a message means "new events, read the table"."""

Notify = Callable[[str], None]
"""Called with a job id after a commit that added events to it (best effort)."""


def job_channel(job_id: str) -> str:
    return f"{JOB_CHANNEL_PREFIX}{job_id}"


class JobNotFound(LookupError):
    """No job with that id."""


@dataclass(frozen=True)
class JobEventView:
    seq: int
    stage: JobStage
    data: dict[str, Any]
    at: str


@dataclass(frozen=True)
class JobView:
    id: str
    kind: JobKind
    stage: JobStage
    sound_id: str | None
    owner: str | None
    error: str | None
    result: dict[str, Any] | None
    created_at: str
    updated_at: str
    events: list[JobEventView]

    @property
    def done(self) -> bool:
        return is_terminal(self.kind, self.stage)


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def create_job(
    session: Session,
    *,
    kind: JobKind,
    owner: str | None,
    sound_id: str | None,
    stages: list[tuple[JobStage, dict[str, Any] | None]],
) -> Job:
    """A new job already at the last of ``stages``, each recorded as an event (seq 1, 2, ...)."""
    job = Job(kind=kind, stage=stages[-1][0], owner_address=owner, sound_id=sound_id)
    session.add(job)
    session.flush()
    for seq, (stage, data) in enumerate(stages, start=1):
        session.add(JobEvent(job_id=job.id, seq=seq, stage=stage, data=data or {}))
    session.flush()
    return job


def _lock_job(session: Session, job_id: str) -> tuple[JobStage, JobKind]:
    """Write the job row first, so this transaction holds its lock (a row lock in PostgreSQL, the
    write lock in SQLite) before the stage and the next sequence number are read."""
    touched = session.execute(
        update(Job).where(Job.id == job_id).values(updated_at=func.now())
    ).rowcount
    if touched != 1:
        raise JobNotFound(job_id)
    stage, kind = session.execute(select(Job.stage, Job.kind).where(Job.id == job_id)).one()
    return stage, kind


def _append_event(
    session: Session, job_id: str, stage: JobStage, data: dict[str, Any] | None
) -> None:
    last = session.execute(
        select(func.max(JobEvent.seq)).where(JobEvent.job_id == job_id)
    ).scalar_one()
    session.add(JobEvent(job_id=job_id, seq=(last or 0) + 1, stage=stage, data=data or {}))


def advance(
    session: Session,
    job_id: str,
    stage: JobStage,
    data: dict[str, Any] | None = None,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Move a job to ``stage`` and record the event; False (nothing written) when the job is
    already there, further on, or finished.
    """
    current, kind = _lock_job(session, job_id)
    if is_terminal(kind, current):
        return False
    if stage is not JobStage.FAILED and STAGE_RANK[stage] <= STAGE_RANK[current]:
        return False
    _append_event(session, job_id, stage, data)
    values: dict[str, Any] = {"stage": stage}
    if error is not None:
        values["error"] = error
    if result is not None:
        values["result"] = result
    session.execute(update(Job).where(Job.id == job_id).values(**values))
    session.flush()
    return True


def add_progress(session: Session, job_id: str, stage: JobStage, data: dict[str, Any]) -> bool:
    """Record a progress event of the stage the job is at; False when it is elsewhere now."""
    current, _ = _lock_job(session, job_id)
    if current is not stage:
        return False
    _append_event(session, job_id, stage, data)
    session.flush()
    return True


def advance_and_notify(
    sessions: sessionmaker[Session],
    job_id: str,
    stage: JobStage,
    data: dict[str, Any] | None = None,
    *,
    notify: Notify | None = None,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """``advance`` in its own transaction, then wake the job's SSE streams."""
    with sessions.begin() as session:
        moved = advance(session, job_id, stage, data, error=error, result=result)
    if moved and notify is not None:
        notify_safely(notify, job_id)
    return moved


def send_or_fail(
    sessions: sessionmaker[Session],
    job_id: str,
    send: Callable[[str], object],
    notify: Notify | None = None,
) -> None:
    """Queue a recorded job with ``send(job_id)``; a broker that refuses it fails the job (its
    ``QueueUnavailable`` propagates, for a 503), so no job waits for a message never sent."""
    from backend.pipeline.queue import QueueUnavailable

    try:
        send(job_id)
    except QueueUnavailable as exc:
        advance_and_notify(sessions, job_id, JobStage.FAILED, {"reason": str(exc)}, error=str(exc))
        raise
    if notify is not None:
        notify_safely(notify, job_id)


def notify_safely(notify: Notify, job_id: str) -> None:
    try:
        notify(job_id)
    except Exception as exc:  # a wake-up is an optimisation: SSE also polls the table
        log.warning("could not publish job %s: %s", job_id, exc)


def redis_notifier(redis_url: str) -> Notify:
    """A ``Notify`` that publishes on the job's channel with a short socket timeout."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)

    def notify(job_id: str) -> None:
        client.publish(job_channel(job_id), "1")

    return notify


def _job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


def job_kind(session: Session, job_id: str) -> JobKind:
    """What a job is (its row only, not its events); ``JobNotFound`` if there is none."""
    return _job(session, job_id).kind


def get_job(session: Session, job_id: str) -> JobView:
    job = _job(session, job_id)
    return JobView(
        id=job.id,
        kind=job.kind,
        stage=job.stage,
        sound_id=job.sound_id,
        owner=job.owner_address,
        error=job.error,
        result=job.result,
        created_at=_iso(job.created_at),
        updated_at=_iso(job.updated_at),
        events=events_after(session, job_id, 0),
    )


def events_after(session: Session, job_id: str, after_seq: int) -> list[JobEventView]:
    """The job's events with ``seq > after_seq``, in order."""
    rows = session.execute(
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.seq > after_seq)
        .order_by(JobEvent.seq)
    ).scalars()
    return [JobEventView(r.seq, r.stage, dict(r.data or {}), _iso(r.created_at)) for r in rows]


def upload_job_for_sound(session: Session, sound_id: str) -> Job | None:
    """The newest upload job of a sound (None for a sound first seen on-chain)."""
    return session.execute(
        select(Job)
        .where(Job.sound_id == sound_id, Job.kind == JobKind.UPLOAD)
        .order_by(Job.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
