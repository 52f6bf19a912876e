"""``/v1/sounds``: upload a recording, register it relayed, read it back."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, Form, UploadFile

from backend.api.deps import CurrentAddress, SettingsDep
from backend.api.pipeline_deps import IpfsDep, NotifyDep, RedisUp, RegistrarDep, SessionsDep
from backend.api.schemas.errors import error_responses
from backend.api.schemas.sounds import (
    RegisterRequest,
    RegisterResponse,
    RegistrationTypedData,
    SoundOut,
    UploadResponse,
)
from backend.db.models import SoundKind
from backend.pipeline.registration import register_relayed, registration_typed_data
from backend.pipeline.sounds import get_sound
from backend.pipeline.uploads import DATASET_LICENSE, accept_upload

router = APIRouter(prefix="/sounds", tags=["sounds"])


@router.post(
    "",
    response_model=UploadResponse,
    responses=error_responses(
        401,
        409,
        413,
        415,
        422,
        503,
        descriptions={
            409: "The same content is a sound already; `error.details[0]` is that sound",
            413: "Over the upload limit (answered before the body is read)",
            415: "Not audio, or an unsupported format (wav, flac, ogg, mp3, webm, m4a)",
            422: "Undecodable or truncated audio, shorter than 0.2 s or longer than 60 s, or a "
            "bad field",
            503: "IPFS, the chain or Redis is not answering; nothing was stored",
        },
    ),
    summary="Upload a recording: validated, pinned to IPFS, recorded; returns what to sign",
)
async def upload_sound(
    address: CurrentAddress,
    settings: SettingsDep,
    sessions: SessionsDep,
    ipfs: IpfsDep,
    registrar: RegistrarDep,
    _redis: RedisUp,
    file: UploadFile = File(description="The recording (at most MIAO_MAX_UPLOAD_MB)"),
    kind: SoundKind = Form(description="What made the sound"),
    contributor_label: str = Form("", description="Optional free text, stored on-chain"),
) -> UploadResponse:
    accepted = await accept_upload(
        await file.read(),
        kind=kind,
        contributor_label=contributor_label,
        uploader=address,
        sessions=sessions,
        ipfs=ipfs,
        registrar=registrar,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
    )
    return UploadResponse(
        sound_id=accepted.sound_id,
        cid=accepted.cid,
        job_id=accepted.job_id,
        kind=accepted.kind,
        duration_s=accepted.duration_s,
        format=accepted.format,
        size_bytes=accepted.size_bytes,
        typed_data=accepted.typed_data,
        register_url=f"/v1/sounds/{accepted.sound_id}/register",
        license=DATASET_LICENSE,
    )


@router.post(
    "/{sound_id}/register",
    response_model=RegisterResponse,
    responses=error_responses(
        401,
        403,
        404,
        409,
        422,
        503,
        descriptions={
            403: "The sound was uploaded by another address",
            409: "The sound is registered already",
            422: "The signature is not the uploader's, has expired, or its nonce was used",
        },
    ),
    summary="Relay the uploader's signed registration (registerSoundFor; the relayer pays gas)",
)
def register_sound(
    sound_id: str,
    body: RegisterRequest,
    address: CurrentAddress,
    sessions: SessionsDep,
    registrar: RegistrarDep,
    notify: NotifyDep,
) -> RegisterResponse:
    relayed = register_relayed(
        sessions,
        registrar,
        sound_id,
        address,
        body.message.model_dump() if body.message else None,
        body.signature,
        notify=notify,
    )
    return RegisterResponse(
        sound_id=relayed.sound_id,
        job_id=relayed.job_id,
        tx_hash=relayed.tx_hash,
        block_number=relayed.block_number,
        contributor=relayed.contributor,
    )


@router.get(
    "/{sound_id}/registration",
    response_model=RegistrationTypedData,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Fresh typed data to sign (after a deadline passed or the nonce moved on)",
)
def get_registration(
    sound_id: str, address: CurrentAddress, sessions: SessionsDep, registrar: RegistrarDep
) -> RegistrationTypedData:
    typed = registration_typed_data(sessions, registrar, sound_id, address)
    return RegistrationTypedData(sound_id=typed["message"]["digest"], typed_data=typed)


@router.get(
    "/{sound_id}",
    response_model=SoundOut,
    responses=error_responses(404, 422),
    summary="A sound, its status, its upload job and its on-chain labels",
)
async def read_sound(sound_id: str, sessions: SessionsDep) -> SoundOut:
    def read() -> SoundOut:
        with sessions() as session:
            return SoundOut.model_validate(get_sound(session, sound_id).as_dict())

    return await asyncio.to_thread(read)
