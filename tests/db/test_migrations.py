"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, and work anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from backend.db.migrate import current_revision, downgrade, head_revision, upgrade
from backend.db.models import Base
from backend.db.session import make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_migrated_schema_equals_models(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False}
            )
            diff = compare_metadata(context, Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert current_revision(migrated_db_url) == head_revision()


def test_empty_database_differs_from_models(db_url: str) -> None:
    """The comparison above can fail: on an unmigrated database it reports every table."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    added = {entry[1].name for entry in diff if entry[0] == "add_table"}
    assert added == set(Base.metadata.tables)


def test_downgrade_to_base_removes_every_table(migrated_db_url: str) -> None:
    downgrade(migrated_db_url, "base")
    engine = make_engine(migrated_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables <= {"alembic_version"}
    upgrade(migrated_db_url)
    assert current_revision(migrated_db_url) == head_revision()


def test_constraints_are_enforced(migrated_db_url: str) -> None:
    """Foreign keys (on for SQLite too), one label per (sound, model), the kind CHECK."""
    engine = make_engine(migrated_db_url)
    sound = "0x" + "ab" * 32
    model = "0x" + "cd" * 32
    addr = "0x" + "11" * 20
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sounds (id, cid, kind, synthetic, contributor_address, "
                    "contributor_label, status) VALUES (:i, 'x', 'cat', false, :a, '', 'pinned')"
                ),
                {"i": sound, "a": addr},
            )
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO contributors (address) VALUES (:a)"), {"a": addr})
            conn.execute(
                text(
                    "INSERT INTO sounds (id, cid, kind, synthetic, contributor_address, "
                    "contributor_label, status) VALUES (:i, 'x', 'cat', false, :a, '', 'pinned')"
                ),
                {"i": sound, "a": addr},
            )
            conn.execute(
                text(
                    "INSERT INTO models (id, name, task, label_names, registered_block, "
                    "registered_tx_hash, registered_log_index) "
                    "VALUES (:m, 'm', 'source', '[\"cat\"]', 1, :m, 0)"
                ),
                {"m": model},
            )
        insert_label = text(
            "INSERT INTO labels (sound_id, model_id, label_index, label_name, confidence_bps, "
            "labeller, block_number, tx_hash, log_index) VALUES (:s, :m, 0, 'cat', 9000, :a, 2, :s, 0)"
        )
        with engine.begin() as conn:
            conn.execute(insert_label, {"s": sound, "m": model, "a": addr})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert_label, {"s": sound, "m": model, "a": addr})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sounds (id, cid, kind, synthetic, contributor_address, "
                    "contributor_label, status) VALUES (:i, 'x', 'hamster', false, :a, '', 'pinned')"
                ),
                {"i": "0x" + "ef" * 32, "a": addr},
            )
    finally:
        engine.dispose()


def test_db_upgrade_command_works_from_any_directory(tmp_path: Path) -> None:
    """``miao db upgrade`` needs no alembic.ini in the working directory."""
    url = f"sqlite:///{tmp_path / 'nested' / 'cli.db'}"
    env = {**os.environ, "MIAO_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "miao", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert current_revision(url) == head_revision()
