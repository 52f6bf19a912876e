"""``/v1/ipfs/{cid}``: the bytes of a file this backend pinned, for pages that cannot reach IPFS.

Only CIDs the database knows are served (a sound's audio, a meow's spectrogram or metadata), so
the route is not an open proxy to the IPFS network. The bytes are verified against the CID on the
way through, and, being content-addressed, cacheable for good.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from backend.api.deps import SettingsDep
from backend.api.errors import ApiError
from backend.api.pipeline_deps import IpfsDep, SessionsDep
from backend.api.schemas.errors import error_responses
from backend.ipfs.cid import Cid, CidError
from backend.pipeline.meows import is_known_cid
from backend.pipeline.uploads import MEDIA_TYPES

router = APIRouter(prefix="/ipfs", tags=["ipfs"])


def media_type(data: bytes) -> str:
    """The content type of a pinned file from its first bytes."""
    from ml.audio import AudioError, sniff_format

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:1] == b"{":
        return "application/json"
    try:
        return MEDIA_TYPES[sniff_format(data)]
    except (AudioError, KeyError):
        return "application/octet-stream"


@router.get(
    "/{cid}",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}, "image/png": {}, "application/json": {}}},
        **error_responses(404, 422, 502, 503),
    },
    summary="A pinned file (audio, spectrogram, metadata), verified against its CID",
)
async def read_file(
    cid: str, settings: SettingsDep, sessions: SessionsDep, ipfs: IpfsDep
) -> Response:
    try:
        parsed = Cid.parse(cid)
    except CidError as exc:
        raise ApiError(422, "invalid_cid", f"{cid!r} is not a CID: {exc}") from None

    def known() -> bool:
        with sessions() as session:
            return is_known_cid(session, str(parsed))

    if not await asyncio.to_thread(known):
        raise ApiError(404, "unknown_cid", f"{parsed} is not a file this backend pinned")
    data = await ipfs.cat(parsed, max_bytes=settings.max_upload_mb * 1024 * 1024)
    return Response(
        data,
        media_type=media_type(data),
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
