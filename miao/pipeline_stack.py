"""The pipeline as separate processes: the API (uvicorn), the indexer (``miao index --follow
--queue-labelling``), a Celery worker and a Redis of its own, for the end-to-end tests and
``miao bench pipeline``.

:func:`start_chain_and_storage` brings up what they run on when nothing is running yet (anvil, the
IPFS node, contracts, a migrated SQLite database, all on free ports under one folder), and
:class:`PipelineStack` starts the processes on given :class:`~backend.settings.Settings`.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backend.settings import REPO_ROOT, Settings
from miao.stack import ManagedProcess, StackError, free_port, port_is_open, start_anvil, start_ipfs


def wait_for_text(path: Path, text: str, timeout_s: float, proc: ManagedProcess) -> None:
    """Until ``text`` is in the process's log; ``StackError`` with the log's tail if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if not proc.alive():
            raise StackError(f"{proc.name} exited:\n{proc.log_tail(40)}")
        time.sleep(0.1)
    raise StackError(f"{proc.name}: no {text!r} after {timeout_s:g}s:\n{proc.log_tail(40)}")


def start_chain_and_storage(var_dir: Path) -> tuple[Settings, list[ManagedProcess]]:
    """A fresh anvil and IPFS node on free ports, contracts deployed, SQLite migrated.

    Returns the settings that point at them and the processes to stop afterwards. The deployer
    is also the relayer-free labeller (its roles come with the deployment).
    """
    from backend.chain.deploy import deploy_and_save
    from backend.db.migrate import upgrade

    logs = var_dir / "logs"
    started: list[ManagedProcess] = []
    try:
        anvil_port = free_port()
        started.append(start_anvil("127.0.0.1", anvil_port, logs))
        ipfs_port, gateway_port = free_port(), free_port()
        started.append(start_ipfs(var_dir / "ipfs", ipfs_port, gateway_port, logs))
        settings = Settings(
            var_dir=var_dir,
            chain_rpc_url=f"http://127.0.0.1:{anvil_port}",
            ipfs_api_url=f"http://127.0.0.1:{ipfs_port}",
        )
        deploy_and_save(settings)
        upgrade(settings.db_url)
    except BaseException:
        for proc in reversed(started):
            proc.stop()
        raise
    return settings, started


@dataclass
class PipelineStack:
    """API, indexer, worker and Redis as child processes on ``settings``' chain, IPFS and DB."""

    settings: Settings
    weights_dir: Path | None
    logs: Path
    visibility_timeout_s: float = 3600.0
    requeue_after_s: float = 60.0
    index_poll_s: float = 0.2
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
        env = {
            "MIAO_VAR_DIR": str(s.var_dir),
            "MIAO_CHAIN_RPC_URL": s.chain_rpc_url,
            "MIAO_IPFS_API_URL": s.ipfs_api_url,
            "MIAO_REDIS_URL": self.redis_url,
            "MIAO_DATABASE_URL": s.db_url,
            "MIAO_DEPLOYMENT_FILE": str(s.deployment_path),
            "MIAO_RELAYER_KEY": s.relayer_key,
            "MIAO_LABELLER_KEY": s.labeller_signer_key,
            "MIAO_MINTER_KEY": s.minter_signer_key,
            "MIAO_SIWE_DOMAIN": s.siwe_domain,
            "MIAO_SESSION_SECRET": s.session_secret,
            "MIAO_MAX_UPLOAD_MB": str(s.max_upload_mb),
            "MIAO_RECEIPT_TIMEOUT_S": str(s.receipt_timeout_s),
            "MIAO_TASK_VISIBILITY_TIMEOUT_S": str(self.visibility_timeout_s),
            "MIAO_REQUEUE_AFTER_S": str(self.requeue_after_s),
            "MIAO_INDEX_POLL_S": str(self.index_poll_s),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
        }
        if self.weights_dir is not None:
            env["MIAO_WEIGHTS_DIR"] = str(self.weights_dir)
        return env

    def process(self, name: str, argv: list[str]) -> ManagedProcess:
        return ManagedProcess(
            name, argv, self.logs / f"{name}.log", env=self.env(), cwd=REPO_ROOT
        ).start()

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise StackError("redis-server is not installed (make setup)")
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
        self.api = self.process("api", [*argv, "--log-level", "warning"])

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.base_url}/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        self.api.wait_until(healthy, timeout=60)

    def worker_argv(self, name: str) -> list[str]:
        argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool=solo"]
        return [*argv, "--loglevel=INFO", "--without-mingle", "--without-gossip", "-n", name]

    def start_worker(self, argv: list[str] | None = None) -> ManagedProcess:
        self._workers_started += 1
        name = f"worker{self._workers_started}"
        self.worker = self.process(name, argv or self.worker_argv(f"{name}@%h"))
        wait_for_text(self.worker.log_path, " ready.", 90, self.worker)
        return self.worker

    def start_indexer(self) -> None:
        argv = [sys.executable, "-m", "miao", "index", "--follow", "--queue-labelling"]
        self.indexer = self.process("indexer", argv)
        wait_for_text(self.indexer.log_path, "following new blocks", 60, self.indexer)

    def wait_for_log(self, proc: ManagedProcess, text: str, timeout_s: float) -> None:
        wait_for_text(proc.log_path, text, timeout_s, proc)

    def start(self) -> PipelineStack:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self.start_redis()
            self.start_api()
            self.start_indexer()
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in (self.worker, self.indexer, self.api, self.redis):
            if proc is not None:
                proc.stop()
