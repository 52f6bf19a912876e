"""Celery tasks: thin wrappers over ``backend.pipeline`` service functions.

``label_sound`` labels an upload, ``generate`` makes a meow or a catified voice, ``mint`` sends a
server mint. Each retries an IPFS node or chain that is down with exponential backoff (capped below
the broker's visibility timeout, so a waiting retry is never redelivered as well) and marks the
job failed once the retries run out; anything retrying cannot fix fails the job at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Task

from backend.chain.errors import ContractRevert, TransactionFailed
from backend.ipfs.errors import IpfsError
from backend.pipeline.generation import GenerationContext, GenerationFailed, run_generation
from backend.pipeline.jobs import redis_notifier
from backend.pipeline.labelling import (
    RETRYABLE_ERRORS,
    LabellingContext,
    LabellingFailed,
    StepHook,
    fail_labelling,
)
from backend.pipeline.labelling import label_sound as label_sound_service
from backend.pipeline.minting import MintFailed, run_mint
from backend.pipeline.queue import GENERATE_TASK, LABEL_SOUND_TASK, MINT_TASK
from backend.settings import get_settings
from worker.app import app

log = logging.getLogger(__name__)

MAX_RETRIES = 8

STEP_HOOK: StepHook | None = None
"""Called after each on-chain write of a labelling (the crash tests stop the worker there)."""

_context: LabellingContext | None = None
_generation: GenerationContext | None = None
_context_lock = threading.Lock()


def context() -> LabellingContext:
    """This process's clients (made on first use: the deployment may appear after start-up)."""
    global _context
    with _context_lock:
        if _context is None:
            settings = get_settings()
            _context = LabellingContext.from_settings(
                settings, notify=redis_notifier(settings.redis_url)
            )
        _context.step_hook = STEP_HOOK
        return _context


def generation_context() -> GenerationContext:
    global _generation
    with _context_lock:
        if _generation is None:
            settings = get_settings()
            _generation = GenerationContext.from_settings(
                settings, notify=redis_notifier(settings.redis_url)
            )
        return _generation


def retry_countdown_s(retries: int) -> float:
    """1, 2, 4, ... seconds, at most 60 and at most half the visibility timeout."""
    cap = min(60.0, get_settings().task_visibility_timeout_s / 2)
    return min(float(2**retries), cap)


@app.task(bind=True, name=LABEL_SOUND_TASK, max_retries=MAX_RETRIES)
def label_sound(self: Task, sound_id: str) -> dict[str, Any]:
    """Label a registered sound on-chain (``backend.pipeline.labelling.label_sound``)."""
    ctx = context()
    try:
        return label_sound_service(ctx, sound_id).as_result()
    except LabellingFailed as exc:
        log.warning("label_sound(%s) failed: %s", sound_id, exc)
        return {"sound_id": sound_id, "failed": str(exc)}
    except RETRYABLE_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            fail_labelling(ctx, sound_id, f"gave up after {MAX_RETRIES} retries: {exc}")
            raise
        countdown = retry_countdown_s(self.request.retries)
        log.info("label_sound(%s): %s; retrying in %gs", sound_id, exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from None


FINAL_ERRORS: tuple[type[Exception], ...] = (
    ContractRevert,
    TransactionFailed,
    IpfsError,
    ValueError,
    FileNotFoundError,
    LookupError,
)
"""Failures retrying cannot fix (a revert, missing content, bad audio, no weights): the job fails."""


def _run_job(task: Task, job_id: str, run: Any, failed: tuple[type[Exception], ...]) -> Any:
    """Run a generation/mint job: retry a service that is down, fail the job on anything else."""
    ctx = generation_context()
    try:
        return run(ctx, job_id)
    except failed as exc:
        ctx.fail(job_id, str(exc))  # a no-op where the job has ended already
        log.warning("%s(%s) failed: %s", task.name, job_id, exc)
        return {"job_id": job_id, "failed": str(exc)}
    except RETRYABLE_ERRORS as exc:
        if task.request.retries >= MAX_RETRIES:
            ctx.fail(job_id, f"gave up after {MAX_RETRIES} retries: {exc}")
            raise
        countdown = retry_countdown_s(task.request.retries)
        log.info("%s(%s): %s; retrying in %gs", task.name, job_id, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown) from None
    except FINAL_ERRORS as exc:
        ctx.fail(job_id, f"{type(exc).__name__}: {exc}")
        log.warning("%s(%s) failed: %s", task.name, job_id, exc)
        return {"job_id": job_id, "failed": str(exc)}


@app.task(bind=True, name=GENERATE_TASK, max_retries=MAX_RETRIES)
def generate(self: Task, job_id: str) -> Any:
    """Make, pin and register a meow or catified voice (``backend.pipeline.generation``)."""
    return _run_job(self, job_id, run_generation, (GenerationFailed,))


@app.task(bind=True, name=MINT_TASK, max_retries=MAX_RETRIES)
def mint(self: Task, job_id: str) -> Any:
    """Server-mint a meow (``backend.pipeline.minting.run_mint``)."""
    return _run_job(self, job_id, run_mint, (MintFailed,))
