"""``python -m miao.indexer_health`` (compose's indexer healthcheck) on the real chain and database:
unhealthy before the indexer has a checkpoint, healthy once it caught up, unhealthy when the chain
moved on without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.chain.client import connect
from backend.chain.deploy import Deployment
from backend.db.session import session_factory
from backend.indexer import Indexer, Web3EventSource
from backend.settings import Settings

pytestmark = [pytest.mark.chain]


def _health(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MIAO_CHAIN_RPC_URL": settings.chain_rpc_url,
        "MIAO_DATABASE_URL": settings.db_url,
        "MIAO_DEPLOYMENT_FILE": str(settings.deployment_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "miao.indexer_health", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_healthy_only_when_the_indexer_keeps_up(
    pipeline_settings: Settings, pipeline_deployment: tuple[Deployment, Path]
) -> None:
    before = _health(pipeline_settings)
    assert before.returncode == 1 and "no indexer checkpoint" in before.stdout
    w3 = connect(pipeline_settings.chain_rpc_url)
    Indexer(
        session_factory(pipeline_settings.db_url),
        Web3EventSource(w3, pipeline_deployment[0]),
        pipeline_deployment[0],
    ).run()
    caught_up = _health(pipeline_settings)
    assert caught_up.returncode == 0, caught_up.stdout
    w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
    behind = _health(pipeline_settings, "--max-lag", "1")
    assert behind.returncode == 1 and "behind the head" in behind.stdout
    missing = _health(pipeline_settings.model_copy(update={"deployment_file": Path("/nope.json")}))
    assert missing.returncode == 2
