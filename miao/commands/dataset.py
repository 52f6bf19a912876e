"""``miao dataset pull``: the open dataset from a running API, verified, as an ``ml`` manifest."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)
dataset_app = typer.Typer(help="The open dataset: pull it to retrain on.", no_args_is_help=True)

EXIT_OK, EXIT_FAILURES, EXIT_UNAVAILABLE = 0, 1, 2


@dataset_app.command("pull")
def pull(
    out: Path = typer.Option(Path("var/dataset"), help="Folder for audio/ and manifest.csv."),
    api_url: str = typer.Option(
        None, help="The API (default: http://MIAO_API_HOST:MIAO_API_PORT)."
    ),
    ipfs_url: str = typer.Option(None, help="IPFS RPC API (default: MIAO_IPFS_API_URL)."),
    kind: str = typer.Option(None, help="Only this kind: cat, dog, infant, other."),
    label: str = typer.Option(None, help="Only sounds some model labelled so."),
    model: str = typer.Option(None, help="Only sounds labelled by this model id."),
    contributor: str = typer.Option(None, help="Only this contributor's sounds."),
    synthetic: bool = typer.Option(
        None, "--synthetic/--no-synthetic", help="Only generated, or only recorded, sounds."
    ),
    concurrency: int = typer.Option(4, min=1, max=32, help="Files fetched at once."),
    timeout: float = typer.Option(None, min=0.1, help="IPFS timeout in s (MIAO_IPFS_TIMEOUT_S)."),
) -> None:
    """Download the export, fetch every sound from IPFS (CID and digest verified) into OUT/audio,
    and write OUT/manifest.csv for `miao train TASK --extra-manifest OUT/manifest.csv`.

    Files already in OUT/audio with the right sha256 are kept, so a pull resumes. Exit codes:
    0 every sound verified, 1 some failed (listed; the manifest has the rest), 2 the API or the
    IPFS node did not answer.
    """
    import asyncio

    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from backend.ipfs.client import IpfsClient
    from backend.ipfs.errors import IpfsUnavailable
    from backend.settings import get_settings
    from miao.dataset_pull import (
        MANIFEST,
        ExportError,
        PulledSound,
        PullFailure,
        PullResult,
        pull_dataset,
        read_export,
    )

    settings = get_settings()
    base = (api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    node = (ipfs_url or settings.ipfs_api_url).rstrip("/")
    filters = {
        "kind": kind,
        "label": label,
        "model": model,
        "contributor": contributor,
        "synthetic": None if synthetic is None else str(synthetic).lower(),
    }
    params = {key: value for key, value in filters.items() if value is not None}
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            records = read_export(http, params)
    except ExportError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    console.print(f"export: {len(records)} sound(s) from {base}")

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("pulling", total=len(records))

        def done(outcome: PulledSound | PullFailure) -> None:
            progress.advance(bar)

        async def run() -> PullResult:
            async with IpfsClient(node, timeout_s=timeout or settings.ipfs_timeout_s) as ipfs:
                return await pull_dataset(records, ipfs, out, concurrency=concurrency, on_done=done)

        try:
            result = asyncio.run(run())
        except IpfsUnavailable as exc:
            console.print(f"[red]error:[/] the IPFS node at {node} did not answer: {exc}")
            console.print("what was fetched is kept; run the pull again to resume")
            raise typer.Exit(EXIT_UNAVAILABLE) from None

    console.print(
        f"[green]{len(result.sounds)} verified[/] ({result.fetched} fetched, "
        f"{result.present} already there) → {out / MANIFEST} ({result.manifest_rows} rows)"
    )
    if result.failures:
        console.print(f"[red]{len(result.failures)} failed:[/]")
        for failure in result.failures:
            console.print(f"  {failure.digest} {failure.cid}: {failure.reason}", soft_wrap=True)
        raise typer.Exit(EXIT_FAILURES)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
