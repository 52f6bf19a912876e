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
        "macro_f1",
        help="What τ is chosen by: macro_f1, accuracy, balanced_accuracy or f1:LABEL.",
    ),
    min_gain: float = typer.Option(
        0.01,
        min=0.0,
        help="How much a larger τ must win by on validation or the CV folds (about a recipe's "
        "seed spread).",
    ),
    cv: list[Path] = typer.Option(
        [],
        help="Choose τ from these `miao cv` folders' out-of-fold probabilities (one per fold "
        "seed) instead of the validation split; repeatable.",
        file_okay=False,
    ),
    cv_variant: str = typer.Option("", help="With --cv: the cross-validated variant to read."),
    group_weighted: bool = typer.Option(
        False,
        "--group-weighted",
        help="With --cv: score each out-of-fold clip at one over its group's clips in its fold, "
        "so a recording cut into many slices counts once (choose it before looking at folds).",
    ),
    test: bool = typer.Option(
        True,
        "--test/--no-test",
        help="Score the test split with and without the prior. --no-test shows the choice "
        "alone, before anyone reads test (it cannot --write: the card records test).",
    ),
    write: bool = typer.Option(
        False, "--write", help="Write the chosen prior into the folder (τ = 0 removes one)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the record as one JSON line."),
) -> None:
    """Reweight a model's clip probabilities by the training label shares raised to τ.

    Class-balanced training leaves a model acting as if every label were equally common; where
    they are not, that costs accuracy. τ (0, 0.25, 0.5, 0.75 or 1) is chosen on the validation
    part of the model's split (the smallest, unless a larger wins by more than --min-gain), or
    with --cv on the out-of-fold probabilities of cross-validated runs of the same recipe (a
    larger τ must also win on most fold seeds); then the test figures with and without it are
    printed. With
    --write the prior becomes a tensor of the weights file (so the model id changes) and the
    config, metrics.json and model card record it. Exit 2 on a bad task, metric or folder;
    exit 1 when ../shared (the clips) is missing.
    """
    from backend.settings import get_settings
    from ml.calibrate import check_metric, fit_prior, write_prior
    from ml.registry import ModelNotFoundError, weights_dir
    from ml.tasks import get_task

    try:
        get_task(task)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        check_metric(metric, get_task(task).labels)
    except ValueError as exc:
        console.print(f"[red]error:[/] --metric: {exc}")
        raise typer.Exit(2) from None
    if bool(cv) != bool(cv_variant):
        console.print("[red]error:[/] --cv and --cv-variant go together")
        raise typer.Exit(2)
    if group_weighted and not cv:
        console.print("[red]error:[/] --group-weighted is for --cv")
        raise typer.Exit(2)
    if write and not test:
        console.print("[red]error:[/] --write needs the test figures: drop --no-test")
        raise typer.Exit(2)
    settings = get_settings()
    folder = model or weights_dir() / task
    if not (settings.shared_dir / "data").is_dir():
        console.print(f"[red]error:[/] no clips: {settings.shared_dir / 'data'} is missing")
        raise typer.Exit(1)
    try:
        chosen_on = "the CV folds" if cv else "validation"
        with console.status(f"scoring {folder} on {chosen_on}" + (" and test" if test else "")):
            record = fit_prior(
                folder,
                task,
                metric,
                settings.var_dir / "cache",
                settings.shared_dir,
                min_gain,
                cv_dirs=cv,
                cv_variant=cv_variant,
                score_test=test,
                group_weighted=group_weighted,
            )
    except (ModelNotFoundError, ValueError, KeyError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if json_output:
        typer.echo(json.dumps(record))
    else:
        column = "out-of-fold" if cv else "val"

        def extra(row: dict) -> str:
            return f"  {metric} {row[metric]:.3f}" if metric.startswith("f1:") else ""

        for row in record["validation"]:
            mark = "  ← chosen" if row["strength"] == record["strength"] else ""
            seeds = "".join(f"  seed {k} {v:.3f}" for k, v in row.get("per_fold_seed", {}).items())
            typer.echo(
                f"τ {row['strength']:<4g} {column} acc {row['accuracy']:.3f}  macro-F1 "
                f"{row['macro_f1']:.3f}  balanced {row['balanced_accuracy']:.3f}"
                f"{extra(row)}{seeds}{mark}"
            )
        if not test:
            typer.echo("test not scored (--no-test)")
        else:
            for which in ("without", "with"):
                s = record[f"test_{which}"]
                typer.echo(
                    f"test {which} prior: acc {s['accuracy']:.3f}  macro-F1 "
                    f"{s['macro_f1']:.3f}  balanced {s['balanced_accuracy']:.3f}{extra(s)}"
                )
    if write:
        new_id = write_prior(folder, record)
        console.print(
            f"[green]written[/] τ = {record['strength']:g} → {folder} (id {new_id[:12]}…)"
        )


def register(app: typer.Typer) -> None:
    app.command("label-prior")(label_prior)
