"""The pipeline's processes for an end-to-end test module: API (uvicorn), Celery worker, indexer,
and a Redis of its own (so a test can stop it), all on the session's anvil and IPFS node."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backend.settings import REPO_ROOT, Settings
from miao.stack import ManagedProcess, free_port, port_is_open


def _wait_for_text(path: Path, text: str, timeout_s: float, proc: ManagedProcess) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited:\n{proc.log_tail(40)}")
        time.sleep(0.1)
    raise AssertionError(f"{proc.name}: no {text!r} after {timeout_s:g}s:\n{proc.log_tail(40)}")


@dataclass
class PipelineStack:
    settings: Settings
    weights_dir: Path
    logs: Path
    visibility_timeout_s: float = 3.0
    requeue_after_s: float = 8.0
    api_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    api: ManagedProcess | None = None
    worker: ManagedProcess | None = None
    indexer: ManagedProcess | None = None
    redis: ManagedProcess | None = None
    _workers_started: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            "MIAO_VAR_DIR": str(s.var_dir),
            "MIAO_CHAIN_RPC_URL": s.chain_rpc_url,
            "MIAO_IPFS_API_URL": s.ipfs_api_url,
            "MIAO_REDIS_URL": self.redis_url,
            "MIAO_DATABASE_URL": s.db_url,
            "MIAO_DEPLOYMENT_FILE": str(s.deployment_path),
            "MIAO_RELAYER_KEY": s.relayer_key,
            "MIAO_LABELLER_KEY": s.labeller_signer_key,
            "MIAO_SIWE_DOMAIN": s.siwe_domain,
            "MIAO_SESSION_SECRET": s.session_secret,
            "MIAO_MAX_UPLOAD_MB": str(s.max_upload_mb),
            "MIAO_RECEIPT_TIMEOUT_S": str(s.receipt_timeout_s),
            "MIAO_TASK_VISIBILITY_TIMEOUT_S": str(self.visibility_timeout_s),
            "MIAO_REQUEUE_AFTER_S": str(self.requeue_after_s),
            "MIAO_INDEX_POLL_S": "0.2",
            "MIAO_WEIGHTS_DIR": str(self.weights_dir),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
        }

    def _process(self, name: str, argv: list[str]) -> ManagedProcess:
        return ManagedProcess(
            name, argv, self.logs / f"{name}.log", env=self.env(), cwd=REPO_ROOT
        ).start()

    # --- services -------------------------------------------------------------------------
    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed (make setup)"
        argv = [server, "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.logs)]
        self.redis = ManagedProcess("redis", argv, self.logs / "redis.log").start()
        self.redis.wait_until(lambda: port_is_open("127.0.0.1", self.redis_port), timeout=15)

    def stop_redis(self) -> None:
        if self.redis:
            self.redis.stop()
            self.redis = None

    def start_api(self) -> None:
        argv = [sys.executable, "-m", "miao", "api", "--port", str(self.api_port)]
        self.api = self._process("api", [*argv, "--log-level", "warning"])

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.base_url}/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        self.api.wait_until(healthy, timeout=60)

    def start_worker(self, *, paused_at: str | None = None) -> ManagedProcess:
        self._workers_started += 1
        name = f"worker{self._workers_started}"
        if paused_at:
            argv = [sys.executable, "-m", "tests.pipeline.paused_worker", paused_at]
        else:
            argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool=solo"]
            argv += ["--loglevel=INFO", "--without-mingle", "--without-gossip"]
        argv += ["-n", f"{name}@%h"] if not paused_at else []
        self.worker = self._process(name, argv)
        _wait_for_text(self.worker.log_path, " ready.", 90, self.worker)
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no acknowledgement."""
        assert self.worker and self.worker.proc
        os.killpg(self.worker.proc.pid, signal.SIGKILL)
        self.worker.proc.wait(10)
        self.worker = None

    def start_indexer(self) -> None:
        argv = [sys.executable, "-m", "miao", "index", "--follow", "--queue-labelling"]
        self.indexer = self._process("indexer", argv)
        _wait_for_text(self.indexer.log_path, "following new blocks", 60, self.indexer)

    def wait_for_log(self, proc: ManagedProcess, text: str, timeout_s: float) -> None:
        _wait_for_text(proc.log_path, text, timeout_s, proc)

    def start(self) -> PipelineStack:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        self.start_api()
        self.start_indexer()
        self.start_worker()
        return self

    def stop(self) -> None:
        for proc in (self.worker, self.indexer, self.api, self.redis):
            if proc is not None:
                proc.stop()
