"""``/v1/dataset``: the open dataset, filtered and paged, and its JSONL export."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from backend.api.pipeline_deps import SessionsDep
from backend.api.schemas.dataset import DatasetPage, ExportRecord
from backend.api.schemas.errors import error_responses, json_error_responses
from backend.api.schemas.sounds import SoundOut
from backend.db.models import SoundKind
from backend.pipeline.dataset import MAX_PAGE, DatasetFilter, export_lines, list_dataset

router = APIRouter(prefix="/dataset", tags=["dataset"])


class JsonLinesResponse(StreamingResponse):
    media_type = "application/x-ndjson"


@router.get(
    "",
    response_model=DatasetPage,
    responses=error_responses(422),
    summary="Registered sounds with their on-chain labels, filtered, in chain order",
)
async def list_sounds(
    sessions: SessionsDep,
    kind: SoundKind | None = Query(None, description="Only this kind"),
    label: str | None = Query(None, description="Only sounds some model labelled so"),
    model: str | None = Query(None, description="Only sounds labelled by this model id"),
    contributor: str | None = Query(None, description="Only this contributor's sounds"),
    synthetic: bool | None = Query(None, description="Only generated (true) or recorded (false)"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> DatasetPage:
    filters = DatasetFilter(kind, label, model, contributor, synthetic)

    def read() -> DatasetPage:
        with sessions() as session:
            page = list_dataset(session, filters, offset, limit)
        return DatasetPage(
            items=[SoundOut.model_validate(item.as_dict()) for item in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
            next_offset=page.next_offset,
        )

    return await asyncio.to_thread(read)


@router.get(
    "/export",
    response_class=JsonLinesResponse,
    responses={
        200: {
            "model": ExportRecord,
            "description": "JSON Lines (`application/x-ndjson`): one ExportRecord per sound",
        },
        **json_error_responses(422, 500),
    },
    summary="The dataset as JSONL: CIDs, digests, labels with model ids and transactions",
)
def export_dataset(
    sessions: SessionsDep,
    kind: SoundKind | None = Query(None, description="Only this kind"),
    label: str | None = Query(None, description="Only sounds some model labelled so"),
    model: str | None = Query(None, description="Only sounds labelled by this model id"),
    contributor: str | None = Query(None, description="Only this contributor's sounds"),
    synthetic: bool | None = Query(None, description="Only generated (true) or recorded (false)"),
) -> JsonLinesResponse:
    filters = DatasetFilter(kind, label, model, contributor, synthetic)

    def lines() -> Iterator[str]:
        with sessions() as session:
            yield from export_lines(session, filters)

    return JsonLinesResponse(
        lines(), headers={"Content-Disposition": 'attachment; filename="miao-dataset.jsonl"'}
    )
