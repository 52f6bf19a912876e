"""The indexer process SIGKILLed mid-batch, then restarted: the same rows as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.chain.client import connect
from backend.db.migrate import upgrade
from backend.db.models import ChainEventRow, IndexerCheckpoint
from backend.db.session import make_engine
from tests.fixtures.db import MakeDbUrl
from tests.indexer.conftest import MakeIndexer
from tests.indexer.history import History
from tests.indexer.snapshot import snapshot

pytestmark = [pytest.mark.chain, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _committed(url: str) -> tuple[int | None, int]:
    """(checkpoint next_block, event rows) as another connection sees them: committed state."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            next_block = s.scalar(select(IndexerCheckpoint.next_block))
            rows = s.scalar(select(func.count()).select_from(ChainEventRow)) or 0
            return next_block, rows
    finally:
        engine.dispose()


def _miao_index(url: str, anvil_url: str, history: History, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MIAO_DATABASE_URL": url,
        "MIAO_CHAIN_RPC_URL": anvil_url,
        "MIAO_DEPLOYMENT_FILE": str(history.deployment_file),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "miao", "index", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _restart_to_completion(
    url: str, anvil_url: str, history: History, until: int, batch_size: int = 3
) -> None:
    args = ("--batch-size", str(batch_size), "--to-block", str(until))
    proc = _miao_index(url, anvil_url, history, *args)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out


def test_sigkill_inside_the_batch_transaction(
    make_db_url: MakeDbUrl,
    make_indexer: MakeIndexer,
    history: History,
    anvil_url: str,
) -> None:
    reference_url = make_db_url()
    make_indexer(reference_url, batch_size=1000).run(until_block=history.end_block)
    reference = snapshot(reference_url)

    url = make_db_url()
    upgrade(url)
    pause_at = 4
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.indexer.crash_midbatch",
            url,
            anvil_url,
            str(history.deployment_file),
            "3",
            str(history.end_block),
            str(pause_at),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("IN-TRANSACTION"), line + proc.stdout.read()
        from_block, _to_block, rows_in_transaction = map(int, line.split()[1:])
        # the batch is written but not committed: others still see the previous checkpoint
        next_block, committed_rows = _committed(url)
        assert next_block == from_block
        assert rows_in_transaction > committed_rows
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # what survived is exactly the committed batches: the same as an index up to from_block - 1
    partial_url = make_db_url()
    make_indexer(partial_url, batch_size=1000).run(until_block=from_block - 1)
    assert snapshot(url) == snapshot(partial_url)

    _restart_to_completion(url, anvil_url, history, history.end_block)
    assert snapshot(url) == reference


def test_sigkill_of_the_cli_while_it_indexes(
    make_db_url: MakeDbUrl,
    make_indexer: MakeIndexer,
    history: History,
    anvil_url: str,
) -> None:
    """`miao index` with one-block batches, killed as soon as its first batch is committed."""
    w3 = connect(anvil_url)
    w3.provider.make_request("anvil_mine", [hex(100)])  # type: ignore[arg-type]
    until = w3.eth.block_number
    reference_url = make_db_url()
    make_indexer(reference_url, batch_size=1000).run(until_block=until)
    reference = snapshot(reference_url)

    url = make_db_url()
    upgrade(url)
    start = history.deployment.block_number
    proc = _miao_index(url, anvil_url, history, "--batch-size", "1", "--to-block", str(until))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            next_block, _ = _committed(url)
            if next_block is not None and next_block > start + 1:
                break
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the indexer finished before it could be killed"
    killed_at, _ = _committed(url)
    assert killed_at is not None and killed_at <= until

    _restart_to_completion(url, anvil_url, history, until, batch_size=40)
    assert snapshot(url) == reference
