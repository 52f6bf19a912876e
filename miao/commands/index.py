"""``miao index``: bring the database up to date with the chain's events (or keep it so)."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True)


def index(
    rebuild: bool = typer.Option(
        False,
        "--rebuild",
        help="Reset every chain-derived row and index again from the deployment block.",
    ),
    follow: bool = typer.Option(
        False, "--follow", help="After catching up, keep indexing new blocks until Ctrl-C."
    ),
    batch_size: int = typer.Option(
        None, min=1, help="Blocks per batch, each one database transaction (MIAO_INDEX_BATCH_SIZE)."
    ),
    confirmations: int = typer.Option(
        None, min=0, help="Index only blocks this deep below the head (MIAO_INDEX_CONFIRMATIONS)."
    ),
    to_block: int = typer.Option(
        None, min=0, help="Stop at this block even if the chain is further on (not with --follow)."
    ),
    poll: float = typer.Option(None, min=0.05, help="--follow: seconds between polls."),
    queue_labelling: bool = typer.Option(
        False,
        "--queue-labelling",
        help="Queue label_sound (Celery on MIAO_REDIS_URL) for each newly registered recorded "
        "sound (`miao dev` does; the worker's sweep catches any it misses).",
    ),
) -> None:
    """Index SoundRegistry and MeowNFT events into the database, from its checkpoint onward.

    Exit codes: 0 done (or Ctrl-C in --follow), 1 the index cannot go on safely (reorg, another
    deployment, another indexer), 2 a service or file is missing.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from backend.chain.client import connect
    from backend.chain.deploy import Deployment
    from backend.chain.errors import ChainUnavailable
    from backend.db.migrate import SchemaOutOfDateError, require_current_schema
    from backend.db.session import normalize_url, session_factory
    from backend.indexer import BatchResult, Indexer, IndexerError, Web3EventSource
    from backend.settings import get_settings

    if follow and to_block is not None:
        raise typer.BadParameter("--to-block cannot be used with --follow")
    settings = get_settings()
    batch_size = batch_size or settings.index_batch_size
    confirmations = settings.index_confirmations if confirmations is None else confirmations
    poll_s = poll or settings.index_poll_s
    db_shown = normalize_url(settings.db_url).render_as_string(hide_password=True)

    try:
        require_current_schema(settings.db_url)
        deployment = Deployment.load(settings.deployment_path)
        w3 = connect(settings.chain_rpc_url)
        chain_id = w3.eth.chain_id
    except (SchemaOutOfDateError, FileNotFoundError, ValueError, ChainUnavailable) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if chain_id != deployment.chain_id:
        console.print(
            f"[red]error:[/] the node at {settings.chain_rpc_url} is chain {chain_id}, but "
            f"{settings.deployment_path} is a deployment on chain {deployment.chain_id}"
        )
        raise typer.Exit(2)

    on_sound_registered = None
    if queue_labelling:
        from backend.pipeline.queue import TaskQueue

        label_queue = TaskQueue(settings)

        def on_sound_registered(sound_id: str) -> None:
            label_queue.enqueue_label(sound_id)  # a failure is logged; the worker's sweep re-queues
            console.print(f"queued label_sound({sound_id})")

    indexer = Indexer(
        session_factory(settings.db_url),
        Web3EventSource(w3, deployment),
        deployment,
        batch_size=batch_size,
        confirmations=confirmations,
        on_sound_registered=on_sound_registered,
    )
    totals: Counter[str] = Counter()
    console.print(
        f"indexing SoundRegistry {deployment.sound_registry} and MeowNFT {deployment.meow_nft} "
        f"into {db_shown} (batch {batch_size} blocks, {confirmations} confirmations)"
    )

    def catch_up(progress: Progress, *, reset: bool) -> None:
        started = time.monotonic()
        if reset:
            indexer.reset()
            console.print("[yellow]rebuild:[/] chain-derived rows cleared")
        checkpoint = indexer.checkpoint()
        target = (
            indexer.target_block() if to_block is None else min(indexer.target_block(), to_block)
        )
        task = progress.add_task(
            "blocks", total=max(target - checkpoint.next_block + 1, 0), events=0
        )

        def advance(batch: BatchResult) -> None:
            totals.update(batch.counts)
            progress.update(task, advance=batch.blocks, events=sum(totals.values()))

        result = indexer.run(until_block=target, progress=advance)
        elapsed = time.monotonic() - started
        blocks = sum(b.blocks for b in result.batches)
        progress.stop()
        if not result.batches:
            console.print(f"[green]up to date[/] at block {result.start_block - 1}")
            return
        console.print(
            f"[green]indexed[/] blocks {result.start_block}..{result.target_block}: "
            f"{blocks} blocks, {result.events} events in {len(result.batches)} batches, "
            f"{elapsed:.2f}s" + (f" ({result.events / elapsed:.0f} events/s)" if elapsed else "")
        )
        if totals:
            console.print("  " + ", ".join(f"{n} {k}" for k, n in sorted(totals.items())))

    columns: list[Any] = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]} events"),
        TimeElapsedColumn(),
    ]
    stop = threading.Event()
    if follow:
        # `miao dev` stops its children with SIGTERM: finish the batch in hand, then exit. Set
        # before the catch-up, so a SIGTERM that arrives during it still ends the run cleanly.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            catch_up(progress, reset=rebuild)
        if follow:
            console.print(f"following new blocks every {poll_s:g}s — Ctrl-C stops")

            def report(batch: BatchResult) -> None:
                if batch.events:
                    counts = ", ".join(f"{n} {k}" for k, n in sorted(batch.counts.items()))
                    console.print(f"blocks {batch.from_block}..{batch.to_block}: {counts}")

            def waiting(exc: Exception) -> None:
                console.print(f"[yellow]chain unreachable, retrying:[/] {exc}")

            indexer.follow(poll_s, stop=stop, progress=report, on_error=waiting)
    except KeyboardInterrupt:
        console.print("\n[dim]Ctrl-C: stopped; the next run resumes at the checkpoint[/]")
    except IndexerError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except ChainUnavailable as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("index")(index)
