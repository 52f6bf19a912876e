"""``miao ensemble TASK MEMBER...``: put trained runs of one task into one averaged labeller."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def ensemble(
    task: str = typer.Argument(
        ..., help="source, cat-emotion, cat-context, dog-bark or infant-cry."
    ),
    members: list[Path] = typer.Argument(
        ...,
        exists=True,
        file_okay=False,
        help="Run folders (or shipped ml/weights/TASK folders) of TASK, trained on one split.",
    ),
    out: Path = typer.Option(
        None, help="Ensemble folder (default var/runs/TASK/ensemble, where `miao eval` finds it)."
    ),
) -> None:
    """Write an ensemble folder: the members' weights in one file, their probabilities averaged.

    `miao eval TASK` then scores it beside the AST and the baselines, on validation and test,
    and `--ship-arch ensemble` or `best-val` ships it. Exit 2 when the members do not fit
    together (another task, label order or split) or a folder is not a trained model.
    """
    from backend.settings import get_settings
    from ml.ensemble import build_ensemble
    from ml.registry import ModelNotFoundError

    target = out or get_settings().var_dir / "runs" / task / "ensemble"
    try:
        folder = build_ensemble(task, members, target)
    except (ValueError, ModelNotFoundError) as exc:  # EnsembleMismatch is a ValueError
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]ensemble[/] of {len(members)} models → {folder}")


def register(app: typer.Typer) -> None:
    app.command("ensemble")(ensemble)
