"""``GET /v1/health`` against real services: anvil and Redis up, the others absent."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.testclient import TestClient

from backend.api.health import CHECK_TIMEOUT_S, register_health_check
from backend.settings import Settings
from miao.stack import free_port


def test_health_reports_which_dependencies_answer(
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    anvil_url: str,
    tmp_path: Path,
) -> None:
    settings = api_settings.model_copy(
        update={
            "chain_rpc_url": anvil_url,
            "ipfs_api_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "database_url": f"sqlite:///{tmp_path / 'missing.db'}",
        }
    )
    reply = make_client(settings).get("/v1/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert set(checks) == {"chain", "ipfs", "redis", "database"}
    assert checks["chain"] == {**checks["chain"], "ok": True, "detail": "chain id 31337"}
    assert checks["redis"]["ok"] is True
    assert checks["ipfs"]["ok"] is False and "Connect" in checks["ipfs"]["detail"]
    assert checks["database"]["ok"] is False
    assert "does not exist" in checks["database"]["detail"]
    assert not (tmp_path / "missing.db").exists()  # the check did not create it


def test_health_is_ok_when_every_check_answers(
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    anvil_url: str,
    ipfs_api_url: str,
    tmp_path: Path,
) -> None:
    db = tmp_path / "miao.db"
    sqlite3.connect(db).close()
    settings = api_settings.model_copy(
        update={
            "chain_rpc_url": anvil_url,
            "ipfs_api_url": ipfs_api_url,
            "database_url": f"sqlite:///{db}",
        }
    )
    body = make_client(settings).get("/v1/health").json()
    assert body["status"] == "ok", body
    assert body["checks"]["ipfs"]["detail"].startswith("version ")
    assert body["checks"]["database"] == {
        **body["checks"]["database"],
        "ok": True,
        "detail": "sqlite",
    }


def test_wrong_chain_and_redis_down_are_reported(
    api_settings: Settings, make_client: Callable[..., TestClient], anvil_url: str
) -> None:
    settings = api_settings.model_copy(
        update={
            "chain_rpc_url": anvil_url,
            "chain_id": 1,
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    checks = make_client(settings).get("/v1/health").json()["checks"]
    assert checks["chain"]["ok"] is False and "chain 31337" in checks["chain"]["detail"]
    assert checks["redis"]["ok"] is False


def test_a_hanging_dependency_is_cut_off_at_the_check_timeout(
    api_settings: Settings, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(api_settings)

    async def hangs(_: Request) -> str:
        await asyncio.sleep(60)
        return "never"

    register_health_check(client.app, "slow", hangs)  # type: ignore[arg-type]
    slow = client.get("/v1/health").json()["checks"]["slow"]
    assert slow["ok"] is False
    assert slow["detail"] == f"no answer within {CHECK_TIMEOUT_S} s"
    assert slow["latency_ms"] < CHECK_TIMEOUT_S * 1000 + 1000
