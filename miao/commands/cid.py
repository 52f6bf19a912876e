"""``miao cid FILE...``: the CID ``ipfs add`` would give each file, computed without a node."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
_PROGRESS_FROM_BYTES = 256 << 20  # below this hashing takes well under a second


def cid(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE...", help="Files to address.", show_default=False
    ),
    v0: bool = typer.Option(
        False, "--v0", help="Print the CIDv0 of plain `ipfs add` instead of CIDv1 raw leaves."
    ),
) -> None:
    """Print `<cid> <path>` per file: CIDv1 base32 as `ipfs add --cid-version=1 --raw-leaves`."""
    from rich.progress import Progress

    from backend.ipfs.unixfs import cid_of_file

    missing = [path for path in files if not path.is_file()]
    for path in missing:
        err.print(f"[red]error:[/] {path}: no such file")
    if missing:
        raise typer.Exit(2)
    total = sum(path.stat().st_size for path in files)
    failed = False
    with Progress(console=err, transient=True, disable=total < _PROGRESS_FROM_BYTES) as progress:
        task = progress.add_task("hashing", total=total)
        for path in files:
            try:
                value = cid_of_file(
                    path,
                    cid_version=0 if v0 else 1,
                    on_progress=lambda n: progress.advance(task, n),
                )
            except OSError as exc:
                err.print(f"[red]error:[/] {path}: {exc.strerror or exc}")
                failed = True
                continue
            typer.echo(f"{value} {path}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("cid")(cid)
