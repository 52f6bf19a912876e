"""Engines and sessions from ``Settings.db_url``: SQLite (embedded default) or PostgreSQL by URL.

SQLite runs in WAL mode with foreign keys enforced and a busy timeout, so the API, the workers and
the indexer can share one file. PostgreSQL goes through psycopg 3 (``postgresql+psycopg://``);
a plain ``postgresql://`` URL is taken to mean the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str | URL) -> URL:
    """The URL with the driver this project ships (psycopg 3 for PostgreSQL)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint in WAL mode
    cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """A new engine for ``url``; creates the SQLite file's folder when it is missing."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (one pool per database)."""
    return make_engine(url)


def session_factory(url: str | Engine) -> sessionmaker[Session]:
    engine = url if isinstance(url, Engine) else get_engine(str(url))
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str | Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with session_factory(url).begin() as session:
        yield session
