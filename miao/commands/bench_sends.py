"""``miao bench sends``: how fast one signer gets transactions mined, through ``ChainClient``.

Every send pays for nonce safety: the lock (a file ``flock``, or a Redis lock with
``--nonce-store redis``) and a check of the counter against the node's pending count. This
measures that path end to end, on plain ether transfers so the contract's gas plays no part:
one thread sending one after another (latency from signing to receipt), then several threads
sending from the same key at once (throughput, every nonce distinct).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import typer
from rich.console import Console

from miao.commands.bench import percentile

err = Console(stderr=True)


class NonceClash(RuntimeError):
    """Concurrent sends from one key did not take consecutive nonces: the counter is broken."""


@dataclass(frozen=True)
class SendFigures:
    sequential_per_s: float
    p50_ms: float
    p95_ms: float
    concurrent_per_s: float
    threads: int
    sends: int
    nonce_store: str


def measure_sends(
    rpc_url: str, key: str, to: str, sends: int, threads: int, nonce_store: str | None
) -> SendFigures:
    """``sends`` transfers one after another, then ``sends`` more over ``threads`` threads."""
    from rich.progress import Progress

    from backend.chain.client import ChainClient

    client = ChainClient(rpc_url, key, nonce_store=nonce_store)
    for _ in range(3):  # warm the connection and the counter
        client.transfer(to, 1)
    latencies: list[float] = []
    with Progress(console=err, transient=True) as progress:
        bar = progress.add_task("one after another", total=sends)
        began = time.perf_counter()
        for _ in range(sends):
            started = time.perf_counter()
            client.transfer(to, 1)
            latencies.append((time.perf_counter() - started) * 1000)
            progress.advance(bar)
        sequential_s = time.perf_counter() - began

        bar = progress.add_task(f"{threads} threads at once", total=sends)
        first = client.w3.eth.get_transaction_count(client.address, "pending")

        def send(_: int) -> str:
            tx_hash = client.transfer(to, 1).tx_hash
            progress.advance(bar)
            return tx_hash

        began = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            hashes = list(pool.map(send, range(sends)))
        concurrent_s = time.perf_counter() - began
    nonces = sorted(int(client.w3.eth.get_transaction(h)["nonce"]) for h in hashes)
    if nonces != list(range(first, first + sends)):
        raise NonceClash(f"concurrent sends did not take consecutive nonces: {nonces}")
    return SendFigures(
        sequential_per_s=round(sends / sequential_s, 1),
        p50_ms=round(percentile(latencies, 50), 2),
        p95_ms=round(percentile(latencies, 95), 2),
        concurrent_per_s=round(sends / concurrent_s, 1),
        threads=threads,
        sends=sends,
        nonce_store="redis" if nonce_store else "machine",
    )


def sends(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
    count: int = typer.Option(200, "--sends", min=1, help="Transfers per phase."),
    threads: int = typer.Option(8, min=1, help="Threads sending at once in the second phase."),
    nonce_store: str = typer.Option(
        "machine",
        help="Where the nonce counter lives: machine (a locked file) or redis (MIAO_REDIS_URL).",
    ),
    rpc_url: str | None = typer.Option(
        None,
        "--rpc-url",
        help="Measure on this dev chain (anvil's funded accounts) instead of a fresh anvil.",
    ),
) -> None:
    """Transfers mined per second from one key, one after another (with p50/p95 from signing to
    receipt) and from several threads at once (anvil's funded account 9 sends).

    Exit codes: 0 measured, 1 the concurrent sends did not take consecutive nonces, 2 no chain or
    nonce store answers, or a bad option."""
    from eth_account import Account

    from backend.chain.dev_accounts import dev_key
    from backend.chain.errors import ChainError
    from backend.settings import get_settings
    from miao.stack import StackError, chain_or_throwaway_anvil

    if nonce_store not in ("machine", "redis"):
        err.print(f"[red]error:[/] --nonce-store must be machine or redis, not {nonce_store!r}")
        raise typer.Exit(2)
    store = get_settings().redis_url if nonce_store == "redis" else None
    to = Account.from_key(dev_key(1)).address
    if rpc_url is None:
        err.print("starting anvil…")
    try:
        with chain_or_throwaway_anvil(rpc_url, "miao-bench-sends-") as url:
            figures = measure_sends(url, dev_key(9), to, count, threads, store)
    except (StackError, ChainError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except NonceClash as exc:
        err.print(f"[red]nonce safety failed:[/] {exc}")
        raise typer.Exit(1) from None

    if json_out:
        typer.echo(json.dumps(asdict(figures)))
        return
    out = Console()
    out.print(f"sends through ChainClient on {url} (nonce store: {figures.nonce_store})")
    out.print(
        f"  one after another: {figures.sequential_per_s} mined/s, signing to receipt "
        f"p50 {figures.p50_ms} ms, p95 {figures.p95_ms} ms ({figures.sends} transfers)"
    )
    out.print(
        f"  {figures.threads} threads at once: {figures.concurrent_per_s} mined/s "
        f"({figures.sends} transfers, consecutive nonces)"
    )


def register(bench_app: typer.Typer) -> None:
    bench_app.command("sends")(sends)
