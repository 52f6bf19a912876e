"""`miao index --follow` as its own process: new events show up, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.chain.client import ChainClient
from backend.chain.deploy import deploy_contracts
from backend.chain.dev_accounts import dev_key
from backend.chain.registry import Kind, SoundRegistry
from backend.db.migrate import upgrade
from backend.db.models import Sound, SoundStatus
from backend.db.session import make_engine
from tests.indexer.history import digest, fake_cid

pytestmark = pytest.mark.chain

REPO_ROOT = Path(__file__).resolve().parents[2]


def _sound_status(url: str, sound_id: str) -> SoundStatus | None:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return s.scalar(select(Sound.status).where(Sound.id == sound_id))
    finally:
        engine.dispose()


def test_follow_indexes_new_blocks_until_sigterm(
    db_url: str, anvil_url: str, tmp_path: Path
) -> None:
    deployer = ChainClient(anvil_url, dev_key(0))
    deployment = deploy_contracts(deployer)
    deployment.save(tmp_path / "deployment.json")
    upgrade(db_url)
    env = {
        **os.environ,
        "MIAO_DATABASE_URL": db_url,
        "MIAO_CHAIN_RPC_URL": anvil_url,
        "MIAO_DEPLOYMENT_FILE": str(tmp_path / "deployment.json"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "miao", "index", "--follow", "--poll", "0.2"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sound = digest(f"follow-{tmp_path.name}")
        registry = SoundRegistry(deployer.with_key(dev_key(3)), deployment.sound_registry)
        registry.register_sound(sound, Kind.CAT, fake_cid(sound), "follow")
        deadline = time.monotonic() + 60
        while _sound_status(db_url, sound) is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        assert _sound_status(db_url, sound) is SoundStatus.REGISTERED
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "SoundRegistered" in out
