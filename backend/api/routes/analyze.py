"""``/v1/analyze``: label a clip within the request, or a live stream over a WebSocket.

Nothing here touches the chain, IPFS or the database. The work is in ``backend.analysis``; the
models run in worker threads so concurrent requests do not wait on each other's event loop.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, UploadFile, WebSocket

from backend.analysis.clips import ModelUnavailable, analyze_clip
from backend.analysis.stream import run_stream
from backend.api.deps import SettingsDep
from backend.api.errors import ApiError
from backend.api.schemas.analyze import AnalyzeResponse, TaskPrediction
from backend.api.schemas.errors import error_responses

router = APIRouter(prefix="/analyze", tags=["analyze"])


@router.post(
    "",
    response_model=AnalyzeResponse,
    responses=error_responses(
        413,
        415,
        422,
        503,
        descriptions={
            413: "Over the upload limit (answered before the body is read)",
            415: "Not audio, or an unsupported format (wav, flac, ogg, mp3, webm, m4a)",
            422: "Undecodable or truncated audio, shorter than 0.2 s or longer than 60 s",
            503: "No source model is shipped on this server (`model_unavailable`)",
        },
    ),
    summary="Label a clip now (source, then the task it routes to); nothing is stored",
    description=(
        "The live variant is `WS /v1/analyze/stream`: send a JSON start message "
        '(`{"format": "pcm_s16le"|"pcm_f32le", "sample_rate": N, "channels": 1}` or '
        '`{"format": "webm"|"ogg"}` for MediaRecorder chunks), then binary audio; the server '
        'sends `{"type": "prediction", ...}` about every second over the last 3 s. '
        '`{"type": "stop"}` ends it. See the README for the close codes.'
    ),
)
async def analyze(
    settings: SettingsDep,
    file: UploadFile = File(description="The recording (at most MIAO_MAX_UPLOAD_MB)"),
) -> AnalyzeResponse:
    data = await file.read()
    try:
        fmt, analysis = await asyncio.to_thread(
            analyze_clip, data, settings.max_upload_mb * 1024 * 1024
        )
    except ModelUnavailable as exc:
        raise ApiError(503, "model_unavailable", str(exc)) from None
    main = analysis.main
    return AnalyzeResponse(
        task=main.task,
        label=main.label,
        display_label=main.display_label,
        predictions=[TaskPrediction.model_validate(v.as_dict()) for v in analysis.verdicts],
        format=fmt,
        duration_s=analysis.duration_s,
        elapsed_ms=analysis.elapsed_ms,
    )


@router.websocket("/stream")
async def analyze_stream(websocket: WebSocket) -> None:
    """Rolling predictions over a live stream (protocol: ``backend.analysis.stream``)."""
    settings = websocket.app.state.settings
    await run_stream(websocket, settings.max_upload_mb * 1024 * 1024)
