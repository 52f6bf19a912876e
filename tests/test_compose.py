"""docker-compose.yml is valid and declares every service with a health check.

No Docker engine runs here, so the file is validated rather than run: by Debian's
docker-compose (1.29) when installed, and structurally in any case.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from backend.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
LONG_RUNNING = {"kubo", "anvil", "redis", "postgres", "api", "worker", "indexer"}


def _compose() -> dict:
    return yaml.safe_load(Path(COMPOSE).read_text())


def test_compose_declares_every_service_with_a_health_check() -> None:
    services = _compose()["services"]
    assert set(services) >= LONG_RUNNING, f"missing: {LONG_RUNNING - set(services)}"
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        assert services[name]["healthcheck"]["test"], f"{name} healthcheck has no test"


def test_api_and_worker_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        for dep in ("kubo", "redis"):
            assert deps[dep]["condition"] == "service_healthy", f"{name} -> {dep}"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        env = services[name]["environment"]
        assert env["MIAO_IPFS_API_URL"].startswith("http://kubo:")
        assert env["MIAO_DATABASE_URL"].startswith("postgresql+psycopg://")


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="Debian's docker-compose is not installed (make setup installs it)",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_indexer_follows_the_chain_and_queues_labelling() -> None:
    indexer = _compose()["services"]["indexer"]
    assert indexer["command"] == ["miao", "index", "--follow", "--queue-labelling"]
    assert indexer["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert indexer["depends_on"]["redis"]["condition"] == "service_healthy"
    assert indexer["healthcheck"]["test"] == ["CMD", "python", "-m", "miao.indexer_health"]
    assert indexer["environment"]["MIAO_REDIS_URL"].startswith("redis://redis:")
