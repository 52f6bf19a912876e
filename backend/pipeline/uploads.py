"""Accepting an upload: validate, address, pin, record — all of it or none of it.

Order matters for "no half state":

1. the bytes are checked with the ``ml`` front end (decodes, 0.2 to 60 s, a supported format);
2. the same content already known is a conflict (the existing sound is returned);
3. the typed data the wallet will sign is built (needs the chain: a chain that is down fails
   here, before anything is stored);
4. the bytes are pinned (an IPFS node that is down fails here: no row);
5. the sound row, the contributor and the job (``received``, ``pinned``) are written in one
   transaction. If that fails, the pin is removed again. If even the unpin fails, what is left is
   a pin without a row: harmless (content-addressed, so the next upload of the same bytes reuses
   it, and nothing on-chain or in the database points at it).

Nothing is registered on-chain here: registration needs the uploader's signature (or their own
transaction), and it names a sound that already has its row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from backend.db.models import Contributor, JobKind, JobStage, Sound, SoundKind, SoundStatus
from backend.ipfs.cid import Cid
from backend.ipfs.client import IpfsClient
from backend.pipeline.jobs import Notify, create_job, notify_safely
from backend.pipeline.registration import Registrar
from backend.pipeline.sounds import SoundView, get_sound
from ml.audio import AudioDecodeError, AudioInfo, UnsupportedFormatError, probe

log = logging.getLogger(__name__)

MIN_DURATION_S = 0.2
MAX_DURATION_S = 60.0
MAX_LABEL_CHARS = 200
DATASET_LICENSE = "CC-BY-4.0"
"""What a contributor grants by uploading: the open dataset is CC BY 4.0, credited by address."""

MEDIA_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
}


class UploadRejected(Exception):
    """The upload is refused; ``status``/``code`` say how the API answers (413, 415, 422)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class DuplicateSound(Exception):
    """The same content is already a sound; ``existing`` is it."""

    def __init__(self, existing: SoundView) -> None:
        super().__init__(f"this content is already sound {existing.id} (CID {existing.cid})")
        self.existing = existing


@dataclass(frozen=True)
class AcceptedUpload:
    sound_id: str
    cid: str
    job_id: str
    kind: SoundKind
    duration_s: float
    format: str
    size_bytes: int
    typed_data: dict[str, Any]


def check_audio(data: bytes, max_bytes: int) -> AudioInfo:
    """What the upload holds, or ``UploadRejected`` with the reason."""
    if len(data) > max_bytes:
        raise UploadRejected(
            413, "too_large", f"the file is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    if not data:
        raise UploadRejected(422, "empty_file", "the file is empty")
    try:
        info = probe(data)
    except UnsupportedFormatError as exc:
        raise UploadRejected(415, "unsupported_format", str(exc)) from None
    except AudioDecodeError as exc:
        raise UploadRejected(422, "undecodable_audio", str(exc)) from None
    if info.duration_s < MIN_DURATION_S:
        raise UploadRejected(
            422,
            "too_short",
            f"the recording is {info.duration_s:.3f} s; at least {MIN_DURATION_S} s is needed",
        )
    if info.duration_s > MAX_DURATION_S:
        raise UploadRejected(
            422,
            "too_long",
            f"the recording is {info.duration_s:.1f} s; at most {MAX_DURATION_S:g} s is accepted",
        )
    return info


def _existing(sessions: sessionmaker[Session], sound_id: str) -> SoundView | None:
    with sessions() as session:
        if session.get(Sound, sound_id) is None:
            return None
        return get_sound(session, sound_id)


def _record(
    sessions: sessionmaker[Session],
    *,
    sound_id: str,
    cid: Cid,
    kind: SoundKind,
    uploader: str,
    contributor_label: str,
    info: AudioInfo,
    size: int,
    registration: dict[str, Any],
) -> str:
    with sessions.begin() as session:
        if session.get(Contributor, uploader) is None:
            session.add(Contributor(address=uploader))
        session.add(
            Sound(
                id=sound_id,
                cid=str(cid),
                kind=kind,
                synthetic=False,
                contributor_address=uploader,
                contributor_label=contributor_label,
                status=SoundStatus.PINNED,
                pinned_at=datetime.now(UTC),
                size_bytes=size,
                duration_s=round(info.duration_s, 4),
                media_type=MEDIA_TYPES.get(info.format),
            )
        )
        session.flush()
        job = create_job(
            session,
            kind=JobKind.UPLOAD,
            owner=uploader,
            sound_id=sound_id,
            stages=[
                (
                    JobStage.RECEIVED,
                    {"bytes": size, "format": info.format, "duration_s": info.duration_s},
                ),
                (JobStage.PINNED, {"cid": str(cid), "sound_id": sound_id}),
            ],
        )
        job.result = {"registration": registration}
        return job.id


async def accept_upload(
    data: bytes,
    *,
    kind: SoundKind,
    contributor_label: str,
    uploader: str,
    sessions: sessionmaker[Session],
    ipfs: IpfsClient,
    registrar: Registrar,
    max_bytes: int,
    notify: Notify | None = None,
) -> AcceptedUpload:
    """Validate, pin and record one upload (see the module docstring for the order)."""
    uploader = Web3.to_checksum_address(uploader)
    contributor_label = contributor_label.strip()
    if len(contributor_label) > MAX_LABEL_CHARS:
        raise UploadRejected(
            422, "label_too_long", f"the contributor label is over {MAX_LABEL_CHARS} characters"
        )
    info = await asyncio.to_thread(check_audio, data, max_bytes)
    sound_id = "0x" + hashlib.sha256(data).hexdigest()
    existing = await asyncio.to_thread(_existing, sessions, sound_id)
    if existing is not None:
        raise DuplicateSound(existing)

    cid_text = str(await asyncio.to_thread(_local_cid, data))
    typed_data = await asyncio.to_thread(
        registrar.typed_data, uploader, sound_id, kind.chain_value, cid_text, contributor_label
    )
    cid = await ipfs.add(data)
    assert str(cid) == cid_text, "the client verifies the node's CID against the local one"
    message = typed_data["message"]
    try:
        job_id = await asyncio.to_thread(
            _record,
            sessions,
            sound_id=sound_id,
            cid=cid,
            kind=kind,
            uploader=uploader,
            contributor_label=contributor_label,
            info=info,
            size=len(data),
            registration={"nonce": message["nonce"], "deadline": message["deadline"]},
        )
    except IntegrityError:
        # the same bytes uploaded at the same moment: the other request's row owns the pin
        existing = await asyncio.to_thread(_existing, sessions, sound_id)
        if existing is None:  # another constraint (a contributor row racing): nothing recorded
            await _unpin_quietly(ipfs, cid)
            raise
        raise DuplicateSound(existing) from None
    except BaseException:
        await _unpin_quietly(ipfs, cid)
        raise
    if notify is not None:
        notify_safely(notify, job_id)
    return AcceptedUpload(
        sound_id=sound_id,
        cid=str(cid),
        job_id=job_id,
        kind=kind,
        duration_s=info.duration_s,
        format=info.format,
        size_bytes=len(data),
        typed_data=typed_data,
    )


def _local_cid(data: bytes) -> Cid:
    from backend.ipfs.unixfs import cid_of_bytes

    return cid_of_bytes(data)


async def _unpin_quietly(ipfs: IpfsClient, cid: Cid) -> None:
    try:
        await ipfs.unpin(cid)
    except Exception as exc:  # see the module docstring: an orphan pin is harmless
        log.warning("could not unpin %s after a failed upload: %s", cid, exc)
