"""Alembic, configured in code: ``upgrade(url)`` works from any directory, no ``alembic.ini``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from backend.db.session import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDateError(RuntimeError):
    """The database is not at the newest migration; the message says what to run."""


def alembic_config(url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%": escape it so passwords with "%" survive
    rendered = normalize_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; creates the SQLite file when it is missing."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(url: str | URL) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def require_current_schema(url: str | URL) -> None:
    """Raise ``SchemaOutOfDateError`` unless the database is at the newest migration."""
    current, head = current_revision(url), head_revision()
    if current != head:
        shown = normalize_url(url).render_as_string(hide_password=True)
        raise SchemaOutOfDateError(
            f"database {shown} is at migration {current or '(none)'}, the code needs {head}: "
            "run `miao db upgrade`"
        )
