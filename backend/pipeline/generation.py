"""Generated meows: a mood (WaveNet) or a voice (voice-to-cat GAN) in, a synthetic sound on-chain out.

The API side (:func:`request_meow`, :func:`request_style_transfer`) checks the request, records a
job whose first event holds its parameters, and queues it; a voice for style transfer is pinned
first, so the worker reads it from IPFS and nothing depends on the API's memory. The worker side
(:func:`run_generation`) then, in order:

1. generates the audio, recording ``generating`` progress events (fixed seed: the same request
   always gives the same bytes, hence the same sound id);
2. pins the WAV, its spectrogram PNG and the ERC-721 metadata JSON (``pinned``);
3. writes the synthetic ``sounds`` row and the ``generated_meows`` row in one transaction;
4. registers the generating model if it is new, then ``registerSynthetic`` with the requester as
   contributor and the model's id (``registered``: the job's end, with its result).

Every step checks what is already done (rows by sound id, the chain by ``sound()``), so a
redelivered task finishes the job instead of duplicating it. The same bytes requested twice (the
same mood, length and seed) give the meow that exists already, said so in the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.chain.errors import SoundAlreadyRegistered
from backend.chain.meow_nft import MeowNFT
from backend.chain.registry import SoundRegistry
from backend.db.models import (
    Contributor,
    GeneratedMeow,
    Job,
    JobKind,
    JobStage,
    Sound,
    SoundKind,
    SoundStatus,
)
from backend.db.session import session_factory
from backend.ipfs.cid import Cid
from backend.ipfs.client import IpfsClient
from backend.pipeline.chain_records import ChainRecorder
from backend.pipeline.jobs import (
    JobView,
    Notify,
    add_progress,
    advance_and_notify,
    create_job,
    get_job,
    notify_safely,
    send_or_fail,
)
from backend.pipeline.meow_metadata import MeowFacts, encode_metadata, meow_metadata
from backend.pipeline.meows import MeowView, get_meow, meow_ids_for_sounds
from backend.pipeline.queue import TaskQueue
from backend.pipeline.uploads import check_audio
from backend.settings import Settings
from ml.audio import encode_wav

log = logging.getLogger(__name__)

WAVENET = "wavenet"
STYLE_TRANSFER = "style_transfer"
MAX_SEED = 2**31 - 1
MAX_VOICE_SECONDS = 10.0
"""The style-transfer generator takes at most this much voice (the synthesis models' limit)."""
PROGRESS_STEP = 0.1
"""A ``generating`` progress event every this fraction of the audio."""


class GenerationRefused(Exception):
    """A request the API refuses (``status``/``code`` say how)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class GenerationFailed(Exception):
    """A generation that cannot succeed (the task marks its job ``failed`` with this reason)."""


@dataclass(frozen=True)
class GenerationParams:
    """What a generation job makes: its first (``received``) event's data."""

    method: str
    mood: str
    seed: int
    seconds: float | None = None
    input_cid: str | None = None
    input_sound_id: str | None = None
    """sha256 of the voice's bytes (style transfer): the metadata's ``source sound``."""

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> GenerationParams:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def canonical_mood(mood: str) -> str:
    """The display name of a mood (``curious`` for ``hunting_mind``), or a 422."""
    from ml.synth.emotion import mood_index, mood_name

    try:
        return mood_name(mood_index(mood.strip()))
    except ValueError as exc:
        raise GenerationRefused(422, "unknown_mood", str(exc)) from None


def known_moods() -> list[str]:
    from ml.synth.emotion import MOODS, mood_name

    return [mood_name(i) for i in range(len(MOODS))]


def _check_seed(seed: int | None) -> int:
    if seed is None:
        return secrets.randbelow(MAX_SEED + 1)
    if not 0 <= seed <= MAX_SEED:
        raise GenerationRefused(422, "bad_seed", f"seed must be between 0 and {MAX_SEED}")
    return seed


def _queue_job(
    sessions: sessionmaker[Session],
    queue: TaskQueue,
    kind: JobKind,
    owner: str,
    params: GenerationParams,
    notify: Notify | None,
) -> str:
    """Record the job (``received``) and queue it; a queue that is down fails the job (503)."""
    with sessions.begin() as session:
        job_id = create_job(
            session,
            kind=kind,
            owner=owner,
            sound_id=None,
            stages=[(JobStage.RECEIVED, asdict(params))],
        ).id
    send_or_fail(sessions, job_id, queue.enqueue_generation, notify)
    return job_id


def request_meow(
    sessions: sessionmaker[Session],
    queue: TaskQueue,
    *,
    owner: str,
    mood: str,
    seconds: float,
    seed: int | None,
    notify: Notify | None = None,
) -> str:
    """Queue a new meow in ``mood``; returns the job id."""
    from ml.synth.pipeline import MAX_SECONDS

    if not 0.1 <= seconds <= MAX_SECONDS:
        raise GenerationRefused(
            422, "bad_length", f"seconds must be between 0.1 and {MAX_SECONDS:g}, got {seconds:g}"
        )
    params = GenerationParams(
        method=WAVENET, mood=canonical_mood(mood), seed=_check_seed(seed), seconds=seconds
    )
    owner = Web3.to_checksum_address(owner)
    return _queue_job(sessions, queue, JobKind.MEOW, owner, params, notify)


async def request_style_transfer(
    sessions: sessionmaker[Session],
    ipfs: IpfsClient,
    queue: TaskQueue,
    *,
    owner: str,
    data: bytes,
    mood: str,
    seed: int | None,
    max_bytes: int,
    notify: Notify | None = None,
) -> tuple[str, str]:
    """Pin the voice and queue its transfer; returns (job id, the voice's CID)."""
    mood = canonical_mood(mood)
    seed = _check_seed(seed)
    info = await asyncio.to_thread(check_audio, data, max_bytes)  # UploadRejected: 413/415/422
    if info.duration_s > MAX_VOICE_SECONDS:
        raise GenerationRefused(
            422,
            "too_long",
            f"the voice is {info.duration_s:.1f} s; style transfer takes at most "
            f"{MAX_VOICE_SECONDS:g} s",
        )
    cid = await ipfs.add(data)
    params = GenerationParams(
        method=STYLE_TRANSFER,
        mood=mood,
        seed=seed,
        seconds=round(info.duration_s, 4),
        input_cid=str(cid),
        input_sound_id="0x" + hashlib.sha256(data).hexdigest(),
    )
    owner = Web3.to_checksum_address(owner)
    job_id = await asyncio.to_thread(
        _queue_job, sessions, queue, JobKind.STYLE_TRANSFER, owner, params, notify
    )
    return job_id, str(cid)


# --- the worker side ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def shipped_synthesiser() -> Any:
    """The shipped WaveNet + emotion encoder, loaded once per process (the worker preloads it)."""
    from ml.synth.pipeline import MeowSynthesiser

    return MeowSynthesiser()


@lru_cache(maxsize=1)
def shipped_voice_to_cat() -> Any:
    from ml.synth.pipeline import VoiceToCat

    return VoiceToCat()


@dataclass
class GenerationContext:
    """What the generation and mint tasks talk to; one per worker process.

    The chain client signs with the minter key (``GENERATOR_ROLE``, ``MINTER_ROLE`` and, in the
    local stack, ``MODEL_ADMIN_ROLE``).
    """

    settings: Settings
    sessions: sessionmaker[Session]
    registry: SoundRegistry
    nft: MeowNFT
    recorder: ChainRecorder
    notify: Notify | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, notify: Notify | None = None
    ) -> GenerationContext:
        client = ChainClient.from_settings(settings, settings.minter_signer_key)
        deployment = Deployment.load(settings.deployment_path)
        return cls(
            settings=settings,
            sessions=session_factory(settings.db_url),
            registry=SoundRegistry(client, deployment.sound_registry),
            nft=MeowNFT(client, deployment.meow_nft),
            recorder=ChainRecorder(client.w3, deployment),
            notify=notify,
        )

    @property
    def synthesiser(self) -> Any:
        return shipped_synthesiser()

    @property
    def voice_to_cat(self) -> Any:
        return shipped_voice_to_cat()

    def advance(self, job_id: str, stage: JobStage, data: dict[str, Any], **kw: Any) -> bool:
        return advance_and_notify(self.sessions, job_id, stage, data, notify=self.notify, **kw)

    def fail(self, job_id: str, reason: str) -> None:
        self.advance(job_id, JobStage.FAILED, {"reason": reason}, error=reason)


def _generation_job(sessions: sessionmaker[Session], job_id: str) -> JobView:
    with sessions() as session:
        job = get_job(session, job_id)
    if job.kind not in (JobKind.MEOW, JobKind.STYLE_TRANSFER):
        raise GenerationFailed(f"job {job_id} is not a generation job")
    return job


@dataclass(frozen=True)
class _Made:
    wave: np.ndarray
    model_id: str
    model_name: str
    task: str


def _generate(ctx: GenerationContext, job_id: str, params: GenerationParams) -> _Made:
    """Run the model, recording a progress event every :data:`PROGRESS_STEP`."""
    next_mark = [PROGRESS_STEP]

    def progress(done: int, total: int) -> None:
        fraction = done / max(1, total)
        if fraction + 1e-9 < next_mark[0] or fraction >= 1.0:
            return
        next_mark[0] = (int(fraction / PROGRESS_STEP) + 1) * PROGRESS_STEP
        with ctx.sessions.begin() as session:
            add_progress(session, job_id, JobStage.GENERATING, {"progress": round(fraction, 3)})
        if ctx.notify is not None:
            notify_safely(ctx.notify, job_id)

    if params.method == WAVENET:
        synth = ctx.synthesiser
        made = synth.synthesize(
            mood=params.mood, seconds=float(params.seconds or 2.0), seed=params.seed,
            progress=progress,
        )  # fmt: skip
        return _Made(made.wave, made.model_id, "synthesis/wavenet", "synthesis")
    from ml.audio import load_audio

    voice = asyncio.run(_cat(ctx.settings, str(params.input_cid)))
    wave = load_audio(voice, max_seconds=MAX_VOICE_SECONDS)
    made = ctx.voice_to_cat.catify(wave, mood=params.mood, seed=params.seed)
    return _Made(made.wave, made.model_id, "style-transfer/style-gan", "style-transfer")


async def _cat(settings: Settings, cid: str) -> bytes:
    async with IpfsClient.from_settings(settings) as ipfs:
        return await ipfs.cat(Cid.parse(cid), max_bytes=settings.max_upload_mb * 1024 * 1024)


async def _pin_all(settings: Settings, *blobs: bytes) -> list[str]:
    async with IpfsClient.from_settings(settings) as ipfs:
        return [str(await ipfs.add(blob)) for blob in blobs]


def _existing_meow(sessions: sessionmaker[Session], sound_id: str) -> MeowView | None:
    """The meow these bytes are already (made by this job before a crash, or by another)."""
    with sessions() as session:
        meow_id = meow_ids_for_sounds(session, [sound_id]).get(sound_id)
        return None if meow_id is None else get_meow(session, meow_id)


def _record_rows(
    sessions: sessionmaker[Session],
    *,
    job_id: str,
    owner: str,
    facts: MeowFacts,
    metadata_cid: str,
    size: int,
) -> str:
    """The synthetic sound and its meow row, in one transaction; returns the meow id."""
    with sessions.begin() as session:
        found = meow_ids_for_sounds(session, [facts.sound_id]).get(facts.sound_id)
        if found is not None:
            return found
        if session.get(Contributor, owner) is None:
            session.add(Contributor(address=owner))
        if session.get(Sound, facts.sound_id) is None:
            session.add(
                Sound(
                    id=facts.sound_id,
                    cid=facts.audio_cid,
                    kind=SoundKind.CAT,
                    synthetic=True,
                    contributor_address=owner,
                    contributor_label=f"generated: {facts.method}, mood {facts.mood}",
                    generator_model_id=facts.model_id,
                    status=SoundStatus.PINNED,
                    pinned_at=datetime.now(UTC),
                    size_bytes=size,
                    duration_s=round(facts.duration_s, 4),
                    media_type="audio/wav",
                )
            )
        meow = GeneratedMeow(
            job_id=job_id,
            sound_id=facts.sound_id,
            method=facts.method,
            model_id=facts.model_id,
            mood=facts.mood,
            seed=facts.seed,
            source_sound_id=facts.source_sound_id,
            spectrogram_cid=facts.image_cid,
            metadata_cid=metadata_cid,
        )
        session.add(meow)
        session.flush()
        session.execute(
            Job.__table__.update().where(Job.id == job_id).values(sound_id=facts.sound_id)
        )
        return meow.id


def _ensure_model(ctx: GenerationContext, made: _Made) -> None:
    model_id = "0x" + made.model_id
    ctx.recorder.ensure_model(
        ctx.sessions, ctx.registry, model_id, made.model_name, made.task, known_moods()
    )


def _register(ctx: GenerationContext, owner: str, facts: MeowFacts, made: _Made) -> None:
    """``registerSynthetic`` once, and its ``SoundRegistered`` log into the database."""
    _ensure_model(ctx, made)
    if ctx.registry.sound(facts.sound_id) is None:
        try:
            tx = ctx.registry.register_synthetic(
                owner, facts.sound_id, SoundKind.CAT.chain_value, facts.audio_cid, facts.model_id
            )
        except SoundAlreadyRegistered:
            pass
        else:
            ctx.recorder.apply(ctx.sessions, ctx.recorder.receipt_events(tx.receipt))
            return
    events = ctx.recorder.registry_events("SoundRegistered", facts.sound_id)
    if not events:
        raise GenerationFailed(f"{facts.sound_id} is registered but has no SoundRegistered log")
    ctx.recorder.apply(ctx.sessions, events)


def run_generation(ctx: GenerationContext, job_id: str) -> dict[str, Any]:
    """Make, pin, record and register one generation job (see the module docstring)."""
    job = _generation_job(ctx.sessions, job_id)
    if job.stage is JobStage.REGISTERED and job.result:
        return job.result
    if job.stage is JobStage.FAILED:
        raise GenerationFailed(job.error or "the job failed")
    params = GenerationParams.from_event(job.events[0].data)
    owner = str(job.owner)
    ctx.advance(job_id, JobStage.GENERATING, {"progress": 0.0, "method": params.method})
    made = _generate(ctx, job_id, params)
    audio = encode_wav(made.wave)
    sound_id = "0x" + hashlib.sha256(audio).hexdigest()
    existing = _existing_meow(ctx.sessions, sound_id)
    if existing is not None and existing.job_id != job_id:
        result = {**existing.result(), "existing": True}
        ctx.advance(job_id, JobStage.REGISTERED, result, result=result)
        return result
    model_id = "0x" + made.model_id
    if existing is not None:  # a re-run of this job: the files are pinned and recorded already
        audio_cid, image_cid = existing.audio_cid, str(existing.image_cid)
        metadata_cid = str(existing.metadata_cid)
    else:
        from ml.features import spectrogram_png

        image = spectrogram_png(
            made.wave, title=f"{params.method}: {params.mood}, seed {params.seed}"
        )
        audio_cid, image_cid = asyncio.run(_pin_all(ctx.settings, audio, image))
    facts = MeowFacts(
        method=params.method,
        mood=params.mood,
        seed=params.seed,
        model_id=model_id,
        sound_id=sound_id,
        audio_cid=audio_cid,
        image_cid=image_cid,
        duration_s=len(made.wave) / 16000,
        source_sound_id=params.input_sound_id,
    )
    if existing is None:
        metadata = encode_metadata(meow_metadata(facts))
        (metadata_cid,) = asyncio.run(_pin_all(ctx.settings, metadata))
    ctx.advance(
        job_id,
        JobStage.PINNED,
        {"audio_cid": audio_cid, "image_cid": image_cid, "metadata_cid": metadata_cid},
    )
    meow_id = _record_rows(
        ctx.sessions, job_id=job_id, owner=owner, facts=facts, metadata_cid=metadata_cid,
        size=len(audio),
    )  # fmt: skip
    _register(ctx, owner, facts, made)
    with ctx.sessions() as session:
        result = {**get_meow(session, meow_id).result(), "existing": False}
    ctx.advance(job_id, JobStage.REGISTERED, result, result=result)
    return result
