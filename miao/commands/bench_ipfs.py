"""``miao bench ipfs``: local CID throughput beside sha256, and add+pin latency on the local node.

The CID figure is the cost of content addressing on top of hashing: the same in-memory bytes are
hashed once by ``hashlib.sha256`` and once into a CIDv1 (256 KiB raw leaves, balanced DAG); the
ratio is what matters (target >= 0.5). The latency figure is one ``IpfsClient.add`` of a fresh
500 kB clip as the backend does it: local CID, ``pin/ls`` check, upload with pin, CID comparison.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.console import Console

from miao.commands.bench import percentile

err = Console(stderr=True)


@dataclass(frozen=True)
class IpfsFigures:
    cid_mb_s: float
    sha256_mb_s: float
    cid_to_sha256_ratio: float
    hashed_mb: float
    add_pin_p50_ms: float
    add_pin_p95_ms: float
    clips: int
    clip_bytes: int
    node: str


def measure_cid_throughput(data: bytes, repeats: int) -> tuple[float, float]:
    """(CID MB/s, sha256 MB/s) on ``data``, each the median of ``repeats`` timed runs."""
    import hashlib

    from backend.ipfs.unixfs import cid_of_bytes

    def mb_s(fn: object) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return len(data) / 1e6 / statistics.median(times)

    sha = mb_s(lambda: hashlib.sha256(data).digest())
    cid = mb_s(lambda: cid_of_bytes(data))
    return cid, sha


async def measure_add_pin(
    api_url: str, clips: int, clip_bytes: int, timeout_s: float
) -> list[float]:
    """Milliseconds per ``add`` (pinned) of ``clips`` fresh random clips, after two warm-ups."""
    import os

    from rich.progress import Progress

    from backend.ipfs.client import IpfsClient

    latencies = []
    async with IpfsClient(api_url, timeout_s=timeout_s) as ipfs:
        for _ in range(2):
            await ipfs.add(os.urandom(clip_bytes))
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("add+pin", total=clips)
            for _ in range(clips):
                clip = os.urandom(clip_bytes)  # fresh content: never already pinned
                started = time.perf_counter()
                await ipfs.add(clip)
                latencies.append((time.perf_counter() - started) * 1000)
                progress.advance(task)
    return latencies


def bench_ipfs(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
    hash_mb: int = typer.Option(128, help="MB of random bytes hashed for the throughput figure."),
    repeats: int = typer.Option(5, min=1, help="Timed runs per hash; the median is reported."),
    clips: int = typer.Option(50, min=1, help="Clips added and pinned for the latency figure."),
    clip_bytes: int = typer.Option(500_000, min=1, help="Bytes per clip."),
    api_url: str = typer.Option(
        None, help="IPFS RPC API (default MIAO_IPFS_API_URL); a node is started if none answers."
    ),
) -> None:
    """Local CID MB/s beside sha256 MB/s, and add+pin p50/p95 of 500 kB clips on the local node."""
    import asyncio
    import os

    from backend.settings import get_settings
    from miao.stack import StackError, free_port, ipfs_api_answers, start_ipfs

    settings = get_settings()
    url = api_url or settings.ipfs_api_url

    err.print(f"hashing {hash_mb} MB ({repeats} runs each)…")
    cid_mb_s, sha_mb_s = measure_cid_throughput(os.urandom(hash_mb * 1_000_000), repeats)

    with tempfile.TemporaryDirectory(prefix="miao-bench-ipfs-") as tmp:
        node = None
        if not ipfs_api_answers(url):
            err.print(f"no IPFS node answers at {url}: starting one in a temporary repo…")
            port = free_port()
            try:
                node = start_ipfs(Path(tmp) / "repo", port, free_port(), Path(tmp) / "logs")
            except StackError as exc:
                err.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from None
            url = f"http://127.0.0.1:{port}"
        try:
            latencies = asyncio.run(
                measure_add_pin(url, clips, clip_bytes, settings.ipfs_timeout_s)
            )
        finally:
            if node is not None:
                node.stop()

    figures = IpfsFigures(
        cid_mb_s=round(cid_mb_s, 1),
        sha256_mb_s=round(sha_mb_s, 1),
        cid_to_sha256_ratio=round(cid_mb_s / sha_mb_s, 3),
        hashed_mb=hash_mb,
        add_pin_p50_ms=round(percentile(latencies, 50), 2),
        add_pin_p95_ms=round(percentile(latencies, 95), 2),
        clips=clips,
        clip_bytes=clip_bytes,
        node=url if node is None else f"{url} (started for this run)",
    )
    if as_json:
        typer.echo(json.dumps(asdict(figures)))
        return
    typer.echo(f"local CID (v1, raw leaves)  {figures.cid_mb_s:>9.1f} MB/s")
    typer.echo(f"hashlib sha256              {figures.sha256_mb_s:>9.1f} MB/s")
    typer.echo(f"ratio CID / sha256          {figures.cid_to_sha256_ratio:>9.3f}   (target >= 0.5)")
    typer.echo(
        f"add+pin {clip_bytes} B clip     p50 {figures.add_pin_p50_ms:.1f} ms, "
        f"p95 {figures.add_pin_p95_ms:.1f} ms  ({clips} clips, {figures.node})"
    )


def register(bench_app: typer.Typer) -> None:
    bench_app.command("ipfs")(bench_ipfs)
