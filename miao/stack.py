"""Start and stop the local services the stack needs: one place for ``miao dev`` and the tests.

Each service is a child process with its own log file under ``var/logs``; a service that is
already answering (Redis on the machine, say) is used as it is and never stopped by us.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from backend.settings import REPO_ROOT

NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


class StackError(RuntimeError):
    """A service could not be started; the message says what to do about it."""


class PortBusyError(StackError):
    def __init__(self, service: str, host: str, port: int) -> None:
        super().__init__(
            f"{service}: port {host}:{port} is already in use by another process. "
            f"Stop that process, or choose another port (see `miao dev --help`)."
        )
        self.service, self.host, self.port = service, host, port


def port_is_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests that start their own services)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def node_tool(name: str) -> Path:
    """A binary installed by ``npm install`` (anvil, forge, jsipfs)."""
    path = NODE_BIN / name
    if not path.exists():
        raise StackError(f"{path} is missing: run `make setup` (it runs `npm install`).")
    return path


@dataclass
class ManagedProcess:
    """A child service: started in its own process group, stopped with SIGTERM then SIGKILL."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.proc = subprocess.Popen(
            list(map(str, self.argv)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` until true; fail with the tail of the log if the process died or hung."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive():
                raise StackError(f"{self.name} exited early:\n{self.log_tail()}")
            time.sleep(0.1)
        self.stop()
        raise StackError(f"{self.name} did not become ready in {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def start_anvil(
    host: str, port: int, logs: Path, *, block_time: float | None = None
) -> ManagedProcess:
    """A fresh anvil chain (chain id 31337, the well-known dev accounts)."""
    if port_is_open(host, port):
        raise PortBusyError("anvil", host, port)
    argv = [
        str(node_tool("anvil")),
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        "31337",
        "--silent",
    ]
    if block_time:
        argv += ["--block-time", str(block_time)]
    proc = ManagedProcess("anvil", argv, logs / "anvil.log").start()
    proc.wait_until(lambda: port_is_open(host, port), timeout=30)
    return proc


@contextmanager
def chain_or_throwaway_anvil(rpc_url: str | None, prefix: str) -> Iterator[str]:
    """``rpc_url`` as given, or the URL of a fresh anvil (logs in a ``prefix`` temp folder) that
    is stopped on the way out: what a benchmark measures on when it is pointed at no chain."""
    if rpc_url is not None:
        yield rpc_url
        return
    import tempfile

    port = free_port()
    anvil = start_anvil("127.0.0.1", port, Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        anvil.stop()


def ensure_redis(url: str, logs: Path, data_dir: Path) -> ManagedProcess | None:
    """Use the Redis at ``url`` if it answers; else start ``redis-server`` there. None = not ours."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if port_is_open(host, port):
        return None
    server = shutil.which("redis-server")
    if server is None:
        raise StackError(
            f"No Redis answers at {url} and redis-server is not installed: "
            "run `make setup` (it installs Debian's redis-server) or set MIAO_REDIS_URL."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        server,
        "--bind",
        host,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data_dir),
    ]
    proc = ManagedProcess("redis", argv, logs / "redis.log").start()
    proc.wait_until(lambda: port_is_open(host, port), timeout=15)
    return proc


def ipfs_api_answers(url: str) -> bool:
    """True when an IPFS RPC API answers ``version`` at ``url`` (http://host:port)."""
    import urllib.request

    try:
        request = urllib.request.Request(f"{url}/api/v0/version", method="POST")
        with urllib.request.urlopen(request, timeout=1.0) as resp:
            return resp.status == 200
    except OSError:
        return False


def _configure_ipfs_repo(repo_dir: Path, api_port: int, gateway_port: int) -> None:
    """Make the repo the project's own: local ports only, no swarm, no peers, no discovery."""
    import json

    config_path = repo_dir / "config"
    config = json.loads(config_path.read_text())
    addresses = config.setdefault("Addresses", {})
    addresses.update(
        Swarm=[],  # no listeners: the js daemon only runs offline here with an empty swarm
        API=f"/ip4/127.0.0.1/tcp/{api_port}",
        Gateway=f"/ip4/127.0.0.1/tcp/{gateway_port}",
        Announce=[],
        NoAnnounce=[],
        Delegates=[],
    )
    addresses.pop("RPC", None)  # the js daemon's gRPC-over-websocket API: unused, one port fewer
    config["Bootstrap"] = []
    config["Discovery"] = {
        "MDNS": {"Enabled": False, "Interval": 10},
        "webRTCStar": {"Enabled": False},
    }
    config.setdefault("Pubsub", {})["Enabled"] = False
    config["Routing"] = {"Type": "none"}
    tmp = config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(config_path)


def _clear_stale_ipfs_lock(repo_dir: Path) -> None:
    """Remove the lock a killed daemon left; refuse when a live daemon still holds the repo.

    A live js-ipfs daemon touches ``repo.lock`` every 10 s (proper-lockfile, 20 s stale time).
    """
    lock = repo_dir / "repo.lock"
    if not lock.exists():
        return
    first = lock.stat().st_mtime
    deadline = time.monotonic() + 11
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            if lock.stat().st_mtime != first:
                raise StackError(
                    f"another IPFS daemon is using the repo {repo_dir}: stop it first."
                )
        except FileNotFoundError:
            return
    shutil.rmtree(lock, ignore_errors=True)
    (repo_dir / "api").unlink(missing_ok=True)


def start_ipfs(repo_dir: Path, api_port: int, gateway_port: int, logs: Path) -> ManagedProcess:
    """An offline IPFS node (npm ``ipfs`` 0.66.1 daemon, Kubo RPC API) with its repo in ``repo_dir``.

    The repo is created on first use and kept; its config is rewritten on every start so the ports
    are always the ones asked for. The API listens on 127.0.0.1 only.
    """
    host = "127.0.0.1"
    for port in (api_port, gateway_port):
        if port_is_open(host, port):
            raise PortBusyError("ipfs", host, port)
    jsipfs = node_tool("jsipfs")
    env = {"IPFS_PATH": str(repo_dir), "IPFS_MONITORING": ""}
    if not (repo_dir / "config").exists():
        repo_dir.parent.mkdir(parents=True, exist_ok=True)
        init = subprocess.run(
            [str(jsipfs), "init", "--empty-repo"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if init.returncode != 0:
            raise StackError(f"ipfs init in {repo_dir} failed:\n{init.stdout}{init.stderr}")
    _configure_ipfs_repo(repo_dir, api_port, gateway_port)
    _clear_stale_ipfs_lock(repo_dir)
    argv = [str(jsipfs), "daemon", "--offline", "--enable-preload=false"]
    proc = ManagedProcess("ipfs", argv, logs / "ipfs.log", env=env).start()
    url = f"http://{host}:{api_port}"
    proc.wait_until(lambda: ipfs_api_answers(url), timeout=90)
    return proc
