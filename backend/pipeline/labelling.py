"""Labelling a registered sound: the models' verdicts written on-chain, then into the database.

``label_sound`` is what the ``label_sound`` task runs. It fetches the audio from IPFS (verified
against its CID), runs ``source`` and then the task that fits the declared kind (cat →
cat-emotion, dog → dog-bark, infant → infant-cry), registers each model on-chain if it is new
(model id = sha256 of its weights), and sends ``setLabel`` per model. Each on-chain write is checked
first and tolerates "already done" (``ModelAlreadyRegistered``, ``AlreadyLabelled``), so running it
twice — a redelivered task, a re-queued job — leaves one label per (sound, model).

A sound whose ``source`` verdict contradicts its declared kind (a "cat" upload the model hears as a
dog) is labelled as declared and *flagged*, never dropped. Errors that retrying cannot fix (not
audio, no weights, a reverted transaction) fail the job with the reason; an IPFS node or chain that
is down propagates, for the task to retry with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.errors import (
    AlreadyLabelled,
    ChainUnavailable,
    ContractRevert,
    TransactionFailed,
    TransactionRejected,
    TransactionTimeout,
)
from backend.chain.registry import SoundRegistry
from backend.db.models import JobKind, JobStage, Sound, SoundKind
from backend.db.session import session_factory
from backend.ipfs.cid import Cid, CidError
from backend.ipfs.client import IpfsClient
from backend.ipfs.errors import IpfsError, IpfsUnavailable
from backend.pipeline.chain_records import ChainRecorder
from backend.pipeline.jobs import Notify, advance_and_notify, create_job, upload_job_for_sound
from backend.pipeline.sounds import normalize_sound_id
from backend.settings import Settings

log = logging.getLogger(__name__)

KIND_TASKS: dict[SoundKind, str] = {
    SoundKind.CAT: "cat-emotion",
    SoundKind.DOG: "dog-bark",
    SoundKind.INFANT: "infant-cry",
}
"""The task that labels a sound of each declared kind after ``source`` (``other``: none)."""

KIND_SOURCES: dict[SoundKind, str] = {
    SoundKind.CAT: "cat",
    SoundKind.DOG: "dog",
    SoundKind.INFANT: "infant_cry",
}
"""The ``source`` label that agrees with each declared kind."""

RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    IpfsUnavailable,
    ChainUnavailable,
    TransactionTimeout,
    TransactionRejected,  # a nonce race between two senders clears on retry
)
"""Failures of a service that is down or busy: the task retries them with backoff."""

StepHook = Callable[[str], None]


class LabellingFailed(Exception):
    """Labelling cannot succeed; the job (when there is one) was marked ``failed`` with this."""


@dataclass(frozen=True)
class WrittenLabel:
    task: str
    model_id: str
    model_name: str
    label: str
    label_index: int
    confidence_bps: int
    tx_hash: str
    written_now: bool
    """False when the label was on-chain already (a re-run)."""


@dataclass(frozen=True)
class LabellingOutcome:
    sound_id: str
    job_id: str
    labels: list[WrittenLabel]
    flagged: bool
    flag_reason: str | None
    skipped_tasks: dict[str, str] = field(default_factory=dict)

    @property
    def main(self) -> WrittenLabel:
        """The kind's task label when there is one, else the ``source`` label."""
        return self.labels[-1]

    def as_result(self) -> dict[str, Any]:
        """The job's ``labelled`` event data and result."""
        main = self.main
        return {
            "sound_id": self.sound_id,
            "label": main.label,
            "task": main.task,
            "confidence": main.confidence_bps / 10_000,
            "confidence_bps": main.confidence_bps,
            "tx_hash": main.tx_hash,
            "model_id": main.model_id,
            "labels": [asdict(label) for label in self.labels],
            "flagged": self.flagged,
            "flag_reason": self.flag_reason,
            "skipped_tasks": self.skipped_tasks,
        }


@dataclass
class LabellingContext:
    """Everything ``label_sound`` talks to; one per worker process."""

    settings: Settings
    sessions: sessionmaker[Session]
    registry: SoundRegistry
    recorder: ChainRecorder
    notify: Notify | None = None
    step_hook: StepHook | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, notify: Notify | None = None) -> LabellingContext:
        client = ChainClient.from_settings(settings, settings.labeller_signer_key)
        deployment = Deployment.load(settings.deployment_path)
        return cls(
            settings=settings,
            sessions=session_factory(settings.db_url),
            registry=SoundRegistry(client, deployment.sound_registry),
            recorder=ChainRecorder(client.w3, deployment),
            notify=notify,
        )

    def step(self, name: str) -> None:
        if self.step_hook is not None:
            self.step_hook(name)


@dataclass(frozen=True)
class _SoundFacts:
    sound_id: str
    cid: str
    kind: SoundKind
    synthetic: bool
    registered_tx_hash: str | None
    registered_block: int | None
    job_id: str
    job_stage: JobStage
    job_result: dict[str, Any] | None
    job_error: str | None


def _sound_and_job(sessions: sessionmaker[Session], sound_id: str) -> _SoundFacts:
    """The sound and its upload job (made here for a sound registered straight from a wallet)."""
    with sessions.begin() as session:
        sound = session.get(Sound, sound_id)
        if sound is None:
            raise LabellingFailed(f"sound {sound_id} is not in the database (is the indexer up?)")
        job = upload_job_for_sound(session, sound_id)
        if job is None:
            job = create_job(
                session,
                kind=JobKind.UPLOAD,
                owner=sound.contributor_address,
                sound_id=sound_id,
                stages=[
                    (
                        JobStage.REGISTERED,
                        {"tx_hash": sound.registered_tx_hash, "relayed": False},
                    )
                ],
            )
        return _SoundFacts(
            sound_id=sound.id,
            cid=sound.cid,
            kind=sound.kind,
            synthetic=sound.synthetic,
            registered_tx_hash=sound.registered_tx_hash,
            registered_block=sound.registered_block,
            job_id=job.id,
            job_stage=job.stage,
            job_result=job.result,
            job_error=job.error,
        )


def fail_labelling(ctx: LabellingContext, sound_id: str, reason: str) -> None:
    """Mark the sound's upload job failed (used when retries run out)."""
    with ctx.sessions() as session:
        job = upload_job_for_sound(session, normalize_sound_id(sound_id))
        job_id = job and job.id
    if job_id:
        advance_and_notify(
            ctx.sessions,
            job_id,
            JobStage.FAILED,
            {"reason": reason},
            notify=ctx.notify,
            error=reason,
        )


def label_sound(ctx: LabellingContext, sound_id: str) -> LabellingOutcome:
    """Label one registered sound on-chain and record it (see the module docstring)."""
    sound_id = normalize_sound_id(sound_id)
    facts = _sound_and_job(ctx.sessions, sound_id)
    if facts.job_stage is JobStage.LABELLED and facts.job_result:
        return _outcome_from_result(facts)
    if facts.job_stage is JobStage.FAILED:
        raise LabellingFailed(facts.job_error or "the job failed")
    try:
        return _label(ctx, facts)
    except RETRYABLE_ERRORS:
        raise
    except (ContractRevert, TransactionFailed) as exc:
        reason = f"the chain rejected the transaction: {exc}"
    except IpfsError as exc:  # not found, integrity: re-fetching will not change the bytes
        reason = f"cannot read the audio from IPFS: {exc}"
    except (ValueError, FileNotFoundError, LabellingFailed) as exc:  # audio, weights, state
        reason = str(exc) or type(exc).__name__
    advance_and_notify(
        ctx.sessions,
        facts.job_id,
        JobStage.FAILED,
        {"reason": reason},
        notify=ctx.notify,
        error=reason,
    )
    raise LabellingFailed(reason)


def _label(ctx: LabellingContext, facts: _SoundFacts) -> LabellingOutcome:
    from ml.audio import load_audio
    from ml.registry import load_labeller, shipped_tasks

    if facts.synthetic:
        raise LabellingFailed("a synthetic sound carries its generator's label; it is not labelled")
    on_chain = ctx.registry.sound(facts.sound_id)
    if on_chain is None:
        raise LabellingFailed(f"sound {facts.sound_id} is not registered on-chain")
    advance_and_notify(
        ctx.sessions,
        facts.job_id,
        JobStage.REGISTERED,
        {"tx_hash": facts.registered_tx_hash, "block_number": facts.registered_block},
        notify=ctx.notify,
    )
    shipped = shipped_tasks()
    if "source" not in shipped:
        raise LabellingFailed(
            "no shipped `source` model (ml/weights/source/model.safetensors): nothing can label "
            f"sounds; shipped tasks: {', '.join(shipped) or 'none'}"
        )
    task = KIND_TASKS.get(facts.kind)
    tasks = ["source"] + ([task] if task and task in shipped else [])
    skipped = {task: "no shipped weights for this task"} if task and task not in shipped else {}
    advance_and_notify(
        ctx.sessions,
        facts.job_id,
        JobStage.LABELLING,
        {"tasks": tasks, "cid": facts.cid},
        notify=ctx.notify,
    )
    data = asyncio.run(_fetch(ctx.settings, facts.cid))
    wave = load_audio(data)
    labels = []
    for name in tasks:
        labeller = load_labeller(name)
        labels.append(_write_label(ctx, facts.sound_id, labeller, labeller.predict(wave)))
    source = labels[0]
    expected = KIND_SOURCES.get(facts.kind)
    disagrees = (source.label != expected) if expected else source.label in KIND_SOURCES.values()
    flagged = bool(disagrees)
    reason = (
        f"declared {facts.kind.value}, but the source model hears {source.label}"
        if flagged
        else None
    )
    outcome = LabellingOutcome(facts.sound_id, facts.job_id, labels, flagged, reason, skipped)
    result = outcome.as_result()
    advance_and_notify(
        ctx.sessions, facts.job_id, JobStage.LABELLED, result, notify=ctx.notify, result=result
    )
    return outcome


async def _fetch(settings: Settings, cid_text: str) -> bytes:
    try:
        cid = Cid.parse(cid_text)
    except CidError as exc:
        raise LabellingFailed(f"the sound's CID {cid_text!r} is not a CID: {exc}") from None
    async with IpfsClient.from_settings(settings) as ipfs:
        return await ipfs.cat(cid, max_bytes=settings.max_upload_mb * 1024 * 1024)


def _write_label(
    ctx: LabellingContext, sound_id: str, labeller: Any, prediction: Any
) -> WrittenLabel:
    """Register the model if new, then set its label once; read back what is on-chain."""
    registry, recorder = ctx.registry, ctx.recorder
    model_id = "0x" + labeller.model_id
    model_name = f"{labeller.task}/{labeller.arch}"
    labels = list(labeller.labels)
    if recorder.ensure_model(ctx.sessions, registry, model_id, model_name, labeller.task, labels):
        ctx.step(f"model_registered:{labeller.task}")
    index = labeller.labels.index(prediction.label)
    confidence = min(10_000, max(0, round(prediction.probabilities[prediction.label] * 10_000)))
    existing = registry.label(sound_id, model_id)
    if existing is None:
        try:
            tx = registry.set_label(sound_id, model_id, index, confidence)
        except AlreadyLabelled:
            existing = registry.label(sound_id, model_id)
        else:
            recorder.apply(ctx.sessions, recorder.receipt_events(tx.receipt))
            ctx.step(f"label_set:{labeller.task}")
            return WrittenLabel(
                labeller.task, model_id, model_name, prediction.label, index, confidence,
                tx.tx_hash, written_now=True,
            )  # fmt: skip
    assert existing is not None
    events = recorder.registry_events("LabelSet", sound_id, model_id)
    if not events:
        raise LabellingFailed(f"label of {sound_id} by {model_id} is set but has no LabelSet log")
    recorder.apply(ctx.sessions, events)
    return WrittenLabel(
        labeller.task, model_id, model_name, labeller.labels[existing.label_index],
        existing.label_index, existing.confidence_bps, events[-1].tx_hash, written_now=False,
    )  # fmt: skip


def _outcome_from_result(facts: _SoundFacts) -> LabellingOutcome:
    result = facts.job_result or {}
    return LabellingOutcome(
        sound_id=facts.sound_id,
        job_id=facts.job_id,
        labels=[WrittenLabel(**{**row, "written_now": False}) for row in result["labels"]],
        flagged=bool(result.get("flagged")),
        flag_reason=result.get("flag_reason"),
        skipped_tasks=dict(result.get("skipped_tasks") or {}),
    )
