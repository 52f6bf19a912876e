"""``/v1/jobs``: a job's state, and its stages as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from backend.api.deps import RedisDep
from backend.api.pipeline_deps import SessionsDep
from backend.api.schemas.errors import error_responses, json_error_responses
from backend.api.schemas.jobs import JobEventOut, JobOut
from backend.db.models import JobKind
from backend.pipeline.jobs import events_after, get_job, is_terminal, job_channel, job_kind

router = APIRouter(prefix="/jobs", tags=["jobs"])

POLL_S = 0.5
"""Longest wait between reads of the event table (a Redis message wakes the stream sooner)."""
KEEPALIVE_S = 15.0


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses=error_responses(404, 422),
    summary="A job: its stage, result or error, and every event so far",
)
async def read_job(job_id: str, sessions: SessionsDep) -> JobOut:
    def read() -> JobOut:
        with sessions() as session:
            view = get_job(session, job_id)
        return JobOut.model_validate(
            {**vars(view), "events": [vars(e) for e in view.events]}, from_attributes=False
        )

    return await asyncio.to_thread(read)


def _sse(event: JobEventOut) -> bytes:
    payload = json.dumps(event.model_dump(mode="json"))
    return f"id: {event.seq}\nevent: {event.stage.value}\ndata: {payload}\n\n".encode()


@router.get(
    "/{job_id}/events",
    response_class=EventStreamResponse,
    responses={
        200: {
            "model": JobEventOut,
            "description": "`text/event-stream`: one event per stage (`event:` the stage, `id:` "
            "its sequence number, `data:` a JobEventOut; a long stage repeats with `progress` "
            "0..1 in its data); the stream ends with the job: an upload after `labelled`, a "
            "generated meow after `registered`, a mint after `minted`, any job after `failed`. "
            "Send `Last-Event-ID` to resume.",
        },
        **json_error_responses(404, 422, 500),
    },
    summary="Follow a job: server-sent events, one per stage (and progress), until it ends",
)
async def job_events(
    job_id: str,
    sessions: SessionsDep,
    redis: RedisDep,
    last_event_id: int | None = Header(default=None, description="Resume after this event"),
) -> EventStreamResponse:
    def read(after: int) -> list[JobEventOut]:
        with sessions() as session:
            return [
                JobEventOut.model_validate(vars(e)) for e in events_after(session, job_id, after)
            ]

    def kind_of_job() -> JobKind:
        with sessions() as session:
            return job_kind(session, job_id)  # JobNotFound -> 404 before the stream starts

    kind = await asyncio.to_thread(kind_of_job)

    async def stream() -> AsyncIterator[bytes]:
        after = last_event_id or 0
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(job_channel(job_id))
        except Exception:  # Redis down: the stream still works by polling the table
            pubsub = None
        idle = 0.0
        try:
            yield b"retry: 1000\n\n"
            while True:
                for event in await asyncio.to_thread(read, after):
                    yield _sse(event)
                    after = event.seq
                    idle = 0.0
                    if is_terminal(kind, event.stage):
                        return
                waited = await _wait(pubsub, POLL_S)
                idle += waited
                if idle >= KEEPALIVE_S:
                    yield b": keep-alive\n\n"
                    idle = 0.0
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    return EventStreamResponse(stream(), headers={"Cache-Control": "no-cache"})


async def _wait(pubsub: object, timeout: float) -> float:
    """Wait for a wake-up message (or ``timeout``); returns the seconds waited."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    if pubsub is None:
        await asyncio.sleep(timeout)
    else:
        try:
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)  # type: ignore[attr-defined]
        except Exception:
            await asyncio.sleep(timeout)
    return loop.time() - started
