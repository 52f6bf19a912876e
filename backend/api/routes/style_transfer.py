"""``/v1/style-transfer``: a voice made cat-like (voice-to-cat GAN), as a generation job."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, UploadFile

from backend.api.deps import CurrentAddress, SettingsDep
from backend.api.pipeline_deps import IpfsDep, NotifyDep, RedisUp, SessionsDep, TaskQueueDep
from backend.api.routes.meows import events_url
from backend.api.schemas.errors import error_responses
from backend.api.schemas.meows import GenerationAccepted
from backend.pipeline.generation import request_style_transfer

router = APIRouter(prefix="/style-transfer", tags=["meows"])


@router.post(
    "",
    status_code=202,
    response_model=GenerationAccepted,
    responses=error_responses(
        401,
        413,
        415,
        422,
        503,
        descriptions={
            413: "Over the upload limit",
            415: "Not audio, or an unsupported format",
            422: "Undecodable, shorter than 0.2 s or longer than 10 s, or an unknown mood",
        },
    ),
    summary="Turn a voice cat-like: the voice is pinned, then a job makes and registers the meow",
)
async def create_style_transfer(
    address: CurrentAddress,
    settings: SettingsDep,
    sessions: SessionsDep,
    ipfs: IpfsDep,
    queue: TaskQueueDep,
    notify: NotifyDep,
    _redis: RedisUp,
    file: UploadFile = File(description="A voice recording, at most 10 s"),
    mood: str = Form("happy", description="The mood of the cat it becomes"),
    seed: int | None = Form(None, ge=0, le=2**31 - 1, description="Griffin-Lim phase seed"),
) -> GenerationAccepted:
    job_id, input_cid = await request_style_transfer(
        sessions,
        ipfs,
        queue,
        owner=address,
        data=await file.read(),
        mood=mood,
        seed=seed,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
        notify=notify,
    )
    return GenerationAccepted(job_id=job_id, events_url=events_url(job_id), input_cid=input_cid)
