"""Cheap liveness checks of the services the gateway talks to, as a small registry.

A check is an async function of the request that returns a short detail or raises; each runs
with a short timeout and all run concurrently, so ``GET /v1/health`` answers within about
:data:`CHECK_TIMEOUT_S` even when a service hangs. Later work may replace a default check (say,
the database one with the app's own engine) through :func:`register_health_check`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

CHECK_TIMEOUT_S = 1.5

HealthCheck = Callable[[Request], Awaitable[str]]


class HealthCheckFailed(RuntimeError):
    """The service answered, but not as it should (wrong chain id, missing database file)."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    detail: str


async def check_redis(request: Request) -> str:
    await request.app.state.redis.ping()
    return "PING answered"


async def check_chain(request: Request) -> str:
    settings = request.app.state.settings
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        reply = await client.post(
            settings.chain_rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        )
        reply.raise_for_status()
        chain_id = int(reply.json()["result"], 16)
    if chain_id != settings.chain_id:
        raise HealthCheckFailed(f"node is on chain {chain_id}, settings say {settings.chain_id}")
    return f"chain id {chain_id}"


async def check_ipfs(request: Request) -> str:
    settings = request.app.state.settings
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        reply = await client.post(f"{settings.ipfs_api_url.rstrip('/')}/api/v0/version")
        reply.raise_for_status()
        return f"version {reply.json().get('Version', '?')}"


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args: dict[str, object] = {"timeout": CHECK_TIMEOUT_S}
    elif parsed.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": max(1, round(CHECK_TIMEOUT_S))}
    else:
        connect_args = {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _ping_database(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():  # connecting would create an empty file: say so instead
            raise HealthCheckFailed(f"database file {path} does not exist (run `miao db upgrade`)")
    with _engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))
    return parsed.get_backend_name()


async def check_database(request: Request) -> str:
    return await asyncio.to_thread(_ping_database, request.app.state.settings.db_url)


def default_health_checks() -> dict[str, HealthCheck]:
    return {
        "chain": check_chain,
        "ipfs": check_ipfs,
        "redis": check_redis,
        "database": check_database,
    }


def register_health_check(app: FastAPI, name: str, check: HealthCheck) -> None:
    """Add a check, or replace the one of that name."""
    app.state.health_checks[name] = check


async def _run(check: HealthCheck, request: Request) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(request), timeout=CHECK_TIMEOUT_S)
        ok = True
    except TimeoutError:
        detail, ok = f"no answer within {CHECK_TIMEOUT_S} s", False
    except Exception as exc:  # a health check reports failures, it does not raise them
        detail, ok = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, False
    return CheckResult(ok, round((time.perf_counter() - started) * 1000, 1), detail)


async def run_health_checks(request: Request) -> dict[str, CheckResult]:
    checks: dict[str, HealthCheck] = request.app.state.health_checks
    results = await asyncio.gather(*(_run(check, request) for check in checks.values()))
    return dict(zip(checks, results, strict=True))
