"""``miao eval TASK``: score trained runs on the group-held-out test split, with the baselines.

Writes a JSON report (accuracy, macro-F1, balanced accuracy, per-class precision/recall/F1, the
majority baseline, every baseline run found) and a confusion-matrix PNG. ``--ship`` copies the
AST run (or the baseline or ensemble that won on validation) into ``ml/weights/TASK`` with its
model card. Names other than the labelling tasks can be routed to their own evaluators through
``EVALUATORS`` (e.g. ``synth`` for generated audio).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)

EVALUATORS: dict[str, Callable[..., None]] = {}
"""Evaluations that are not a labelling task: name → function(out=..., json_output=...)."""


def evaluate(
    task: str = typer.Argument(
        ..., help="source, cat-emotion, cat-context, dog-bark or infant-cry."
    ),
    runs: Path = typer.Option(
        None,
        help="Folder with the runs (ast/, mfcc_cnn/, yamnet_dnn/, ensemble/); default "
        "var/runs/TASK.",
    ),
    part: str = typer.Option("test", help="Split part to score: test (the honest one) or val."),
    out: Path = typer.Option(None, help="Report folder (default var/reports/TASK)."),
    ship: bool = typer.Option(
        False, help="Also copy the AST run to ml/weights/TASK with model card and metrics."
    ),
    ship_arch: str = typer.Option(
        "ast",
        help="Run to ship: ast, mfcc_cnn, ensemble, or best-val (the cheapest to label with, "
        "unless a dearer one wins on validation macro-F1 by more than --min-gain).",
    ),
    min_gain: float = typer.Option(
        0.0,
        min=0.0,
        help="With --ship-arch best-val: the validation macro-F1 a dearer run (mfcc_cnn < ast < "
        "ensemble) must win by to be shipped; about the recipe's seed spread.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
    allow_no_ast: bool = typer.Option(
        False,
        "--allow-no-ast",
        help="Score (and ship) the baseline runs when no AST run was trained for this split.",
    ),
) -> None:
    """Evaluate a task's trained runs on one split part and write report.json + confusion.png."""
    if task in EVALUATORS:
        EVALUATORS[task](out=out, json_output=json_output)
        return
    from backend.settings import get_settings
    from ml.data import read_split
    from ml.evaluate import confusion_png, evaluate_runs, write_report
    from ml.tasks import get_task

    settings = get_settings()
    try:
        spec = get_task(task)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if part not in ("test", "val"):
        console.print("[red]error:[/] --part must be test or val")
        raise typer.Exit(2)
    base = runs or settings.var_dir / "runs" / task
    found = {
        name: base / name
        for name in ("ast", "mfcc_cnn", "yamnet_dnn", "ensemble")
        if (base / name / "model.safetensors").is_file()
    }
    if "ast" not in found and not (found and allow_no_ast):
        console.print(
            f"[red]error:[/] no trained AST run in {base / 'ast'}; run `miao train {task}` "
            "(or pass --allow-no-ast to score the baselines alone)"
        )
        raise typer.Exit(1)
    first = next(iter(found))  # the AST when there is one
    split = read_split(found[first] / "split.csv", settings.shared_dir)
    for run_dir in found.values():
        other = read_split(run_dir / "split.csv", settings.shared_dir)
        if other.parts() != split.parts():
            console.print(f"[red]error:[/] {run_dir} was trained on another split than {first}")
            raise typer.Exit(1)
    cache = settings.var_dir / "cache"
    with console.status(f"evaluating {', '.join(found)} on the {part} split"):
        report = evaluate_runs(split, found, spec.labels, part=part, cache_dir=cache)
    report["task"] = task
    report_dir = out or settings.var_dir / "reports" / task
    write_report(report, report_dir / f"report-{part}.json")
    confusion_png(
        report["models"][first], report_dir / f"confusion-{part}.png", f"{task}: {first} ({part})"
    )
    for name, result in report["models"].items():
        console.print(
            f"{name:<11} acc {result['accuracy']:.3f}  macro-F1 {result['macro_f1']:.3f}  "
            f"balanced acc {result['balanced_accuracy']:.3f}"
        )
    console.print(f"report: {report_dir / f'report-{part}.json'}")
    if ship:
        if part != "test":
            console.print("[red]error:[/] --ship needs the test report (--part test)")
            raise typer.Exit(2)
        from ml.evaluate import LABELLING_COST_ORDER, choose_by_validation
        from ml.model_card import write_card
        from ml.registry import WEIGHTS_DIR

        val_report = evaluate_runs(split, found, spec.labels, part="val", cache_dir=cache)
        shippable = [a for a in LABELLING_COST_ORDER if a in found]
        if ship_arch == "best-val":
            chosen = choose_by_validation(
                {a: val_report["models"][a]["macro_f1"] for a in shippable}, min_gain
            )
        elif ship_arch in shippable:
            chosen = ship_arch
        else:
            console.print(f"[red]error:[/] cannot ship {ship_arch!r}; trained: {shippable}")
            raise typer.Exit(2)
        card = write_card(
            task, found[chosen], split, report, val_report, WEIGHTS_DIR / task, shipped=chosen
        )
        console.print(f"[green]shipped[/] {card.parent}")
    if json_output:
        typer.echo(json.dumps(report))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
