"""``miao label-prior TASK``: choose a shipped model's label prior on validation, and write it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def label_prior(
    task: str = typer.Argument(
        ..., help="source, cat-emotion, cat-context, dog-bark or infant-cry."
    ),
    model: Path = typer.Option(
        None, help="Model folder (default: the shipped ml/weights/TASK).", file_okay=False
    ),
    metric: str = typer.Option(
        "macro_f1", help="What τ is chosen by on validation: macro_f1, accuracy, balanced_accuracy."
    ),
    min_gain: float = typer.Option(
        0.01,
        min=0.0,
        help="How much a larger τ must win on validation by (about a recipe's seed spread).",
    ),
    write: bool = typer.Option(
        False, "--write", help="Write the chosen prior into the folder (τ = 0 removes one)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the record as one JSON line."),
) -> None:
    """Reweight a model's clip probabilities by the training label shares raised to τ.

    Class-balanced training leaves a model acting as if every label were equally common; where
    they are not, that costs accuracy. τ (0, 0.25, 0.5, 0.75 or 1) is chosen on the validation
    part of the model's split (the smallest, unless a larger wins by more than --min-gain), then the test figures with and without it are printed. With
    --write the prior becomes a tensor of the weights file (so the model id changes) and the
    config, metrics.json and model card record it. Exit 2 on a bad task, metric or folder;
    exit 1 when ../shared (the clips) is missing.
    """
    from backend.settings import get_settings
    from ml.calibrate import METRICS, fit_prior, write_prior
    from ml.registry import ModelNotFoundError, weights_dir
    from ml.tasks import get_task

    try:
        get_task(task)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if metric not in METRICS:
        console.print(f"[red]error:[/] --metric must be one of {', '.join(METRICS)}")
        raise typer.Exit(2)
    settings = get_settings()
    folder = model or weights_dir() / task
    if not (settings.shared_dir / "data").is_dir():
        console.print(f"[red]error:[/] no clips: {settings.shared_dir / 'data'} is missing")
        raise typer.Exit(1)
    try:
        with console.status(f"scoring {folder} on validation and test"):
            record = fit_prior(
                folder, task, metric, settings.var_dir / "cache", settings.shared_dir, min_gain
            )
    except (ModelNotFoundError, ValueError, KeyError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if json_output:
        typer.echo(json.dumps(record))
    else:
        for row in record["validation"]:
            mark = "  ← chosen" if row["strength"] == record["strength"] else ""
            typer.echo(
                f"τ {row['strength']:<4g} val acc {row['accuracy']:.3f}  macro-F1 "
                f"{row['macro_f1']:.3f}  balanced {row['balanced_accuracy']:.3f}{mark}"
            )
        for name in ("test_without", "test_with"):
            s = record[name]
            typer.echo(
                f"test {'without' if name == 'test_without' else 'with'} prior: acc "
                f"{s['accuracy']:.3f}  macro-F1 {s['macro_f1']:.3f}  balanced "
                f"{s['balanced_accuracy']:.3f}"
            )
    if write:
        new_id = write_prior(folder, record)
        console.print(
            f"[green]written[/] τ = {record['strength']:g} → {folder} (id {new_id[:12]}…)"
        )


def register(app: typer.Typer) -> None:
    app.command("label-prior")(label_prior)
