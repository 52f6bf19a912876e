"""``miao cid FILE...``: the CID ``ipfs add`` would give each file, computed without a node."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True)


def cid(
    files: list[Path] = typer.Argument(..., help="Files to address.", show_default=False),
    v0: bool = typer.Option(
        False, "--v0", help="Print the CIDv0 of plain `ipfs add` instead of CIDv1 raw leaves."
    ),
) -> None:
    """Print `<cid> <path>` per file: CIDv1 base32 as `ipfs add --cid-version=1 --raw-leaves`."""
    from backend.ipfs.unixfs import cid_of_file

    missing = [path for path in files if not path.is_file()]
    for path in missing:
        err.print(f"[red]error:[/] {path}: no such file")
    if missing:
        raise typer.Exit(2)
    failed = False
    for path in files:
        try:
            value = cid_of_file(path, cid_version=0 if v0 else 1)
        except OSError as exc:
            err.print(f"[red]error:[/] {path}: {exc.strerror or exc}")
            failed = True
            continue
        typer.echo(f"{value} {path}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("cid")(cid)
