"""``miao dev``: run the embedded local stack until Ctrl-C, then stop everything it started."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from urllib.parse import urlparse

import typer
from rich.console import Console

console = Console(stderr=True)


def siwe_domain_for(configured: str, api_port: int, environ: Mapping[str, str]) -> str:
    """The sign-in domain the API should check: the configured one if set explicitly, else
    ``localhost:<the port the API serves on>``, so a wallet on the page sees its own origin."""
    if "MIAO_SIWE_DOMAIN" in environ:
        return configured
    return f"localhost:{api_port}"


def dev(
    chain_port: int = typer.Option(
        None, help="anvil port (default: from MIAO_CHAIN_RPC_URL, 8545)."
    ),
    block_time: float = typer.Option(0.0, help="Seconds per block; 0 mines on every transaction."),
    keep_chain: bool = typer.Option(
        False, help="Use a chain already answering at MIAO_CHAIN_RPC_URL instead of starting anvil."
    ),
    ipfs_gateway_port: int = typer.Option(8080, help="Read-only HTTP gateway of the IPFS node."),
    api_port: int = typer.Option(None, help="API port (default: MIAO_API_PORT, 8000)."),
) -> None:
    """Start the chain, Redis, the IPFS node, deploy the contracts, migrate the database and run
    the indexer, the labelling worker and the API; Ctrl-C stops them."""
    from sqlalchemy.exc import OperationalError

    from backend.chain.deploy import deploy_and_save
    from backend.chain.errors import ChainError
    from backend.db.migrate import upgrade as upgrade_database
    from backend.db.session import normalize_url
    from backend.settings import get_settings
    from miao.stack import (
        ManagedProcess,
        PortBusyError,
        StackError,
        ensure_redis,
        ipfs_api_answers,
        port_is_open,
        start_anvil,
        start_ipfs,
    )

    settings = get_settings()
    logs = settings.var_dir / "logs"
    started: list[ManagedProcess] = []

    def stop_all(*_: object) -> None:
        for proc in reversed(started):
            console.print(f"[dim]stopping {proc.name}[/]")
            proc.stop()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        rpc = urlparse(settings.chain_rpc_url)
        host, port = rpc.hostname or "127.0.0.1", chain_port or rpc.port or 8545
        if keep_chain and port_is_open(host, port):
            console.print(f"chain: using the node at {host}:{port}")
        else:
            started.append(start_anvil(host, port, logs, block_time=block_time or None))
            console.print(
                f"[green]chain[/]  anvil on http://{host}:{port} (log {logs / 'anvil.log'})"
            )
        settings.chain_rpc_url = f"http://{host}:{port}"

        redis = ensure_redis(settings.redis_url, logs, settings.var_dir / "redis")
        if redis:
            started.append(redis)
            console.print(f"[green]redis[/]  started at {settings.redis_url}")
        else:
            console.print(f"[green]redis[/]  using the server at {settings.redis_url}")

        ipfs_api = urlparse(settings.ipfs_api_url)
        ipfs_port = ipfs_api.port or 5001
        if ipfs_api_answers(settings.ipfs_api_url):
            console.print(f"[green]ipfs[/]   using the node at {settings.ipfs_api_url}")
        else:
            started.append(
                start_ipfs(settings.var_dir / "ipfs", ipfs_port, ipfs_gateway_port, logs)
            )
            console.print(
                f"[green]ipfs[/]   node on {settings.ipfs_api_url} (repo {settings.var_dir / 'ipfs'})"
            )

        deployment = deploy_and_save(settings)
        console.print(f"[green]contracts[/] deployed, addresses in {settings.deployment_path}")
        for name, address in deployment.addresses().items():
            console.print(f"  {name:<14} {address}")

        db_shown = normalize_url(settings.db_url).render_as_string(hide_password=True)
        try:
            upgrade_database(settings.db_url)
        except OperationalError as exc:
            raise StackError(f"database {db_shown} cannot be migrated: {exc.orig}") from None
        # --rebuild: each start deploys new contracts, so rows indexed from an older chain go
        indexer_argv = [sys.executable, "-m", "miao", "index", "--follow", "--rebuild"]
        indexer_argv.append("--queue-labelling")  # newly registered sounds go to the worker
        indexer_env = {
            "MIAO_CHAIN_RPC_URL": settings.chain_rpc_url,
            "MIAO_DEPLOYMENT_FILE": str(settings.deployment_path),
        }
        started.append(
            ManagedProcess("indexer", indexer_argv, logs / "indexer.log", env=indexer_env).start()
        )
        console.print(f"[green]indexer[/] following the chain into {db_shown}")

        worker_argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker"]
        worker_argv += ["--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"]
        started.append(
            ManagedProcess("worker", worker_argv, logs / "worker.log", env=indexer_env).start()
        )
        console.print(
            f"[green]worker[/]  Celery on {settings.redis_url} (log {logs / 'worker.log'})"
        )

        api_port = api_port or settings.api_port
        if port_is_open(settings.api_host, api_port):
            raise PortBusyError("api", settings.api_host, api_port)
        api_argv = [sys.executable, "-m", "miao", "api", "--port", str(api_port)]
        domain = siwe_domain_for(settings.siwe_domain, api_port, os.environ)
        api_env = {**indexer_env, "MIAO_SIWE_DOMAIN": domain}
        started.append(ManagedProcess("api", api_argv, logs / "api.log", env=api_env).start())
        console.print(
            f"[green]api[/]     http://{domain}/v1 (docs /v1/docs, log {logs / 'api.log'})"
        )
        console.print(f"[green]dapp[/]    http://{domain}/ (sign-in domain {domain})")

        console.print("[bold]local stack is up[/] — Ctrl-C stops it")
        while all(p.alive() for p in started):
            time.sleep(0.5)
        dead = [p for p in started if not p.alive()]
        for p in dead:
            console.print(f"[red]{p.name} exited[/]:\n{p.log_tail()}")
        raise typer.Exit(1)
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except ChainError as exc:
        console.print(f"[red]error:[/] the chain at {settings.chain_rpc_url} failed: {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("\n[dim]Ctrl-C: shutting down[/]")
    finally:
        stop_all()


def register(app: typer.Typer) -> None:
    app.command("dev")(dev)
