"""Every chain-derived row of a database, for comparing two builds of the index.

Surrogate integer ids and timestamps differ between builds by design and are left out; every
other column is compared, and rows are sorted by their natural keys.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.db.models import Base
from backend.db.session import make_engine

COMPARED_TABLES = (
    "contributors",
    "sounds",
    "models",
    "labels",
    "nfts",
    "chain_events",
    "indexer_checkpoints",
)
EXCLUDED = {"created_at", "updated_at"}
SURROGATE_IDS = {"labels", "chain_events", "indexer_checkpoints"}


def snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            result: dict[str, list[dict[str, Any]]] = {}
            for name in COMPARED_TABLES:
                table = Base.metadata.tables[name]
                columns = [
                    c
                    for c in table.columns
                    if c.name not in EXCLUDED and not (name in SURROGATE_IDS and c.name == "id")
                ]
                rows = [dict(r._mapping) for r in conn.execute(select(*columns))]
                result[name] = sorted(rows, key=lambda r: repr(sorted(r.items())))
            return result
    finally:
        engine.dispose()


def row_counts(snap: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in snap.items()}
