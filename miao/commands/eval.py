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
"""Evaluations that are not a labelling task: name → function(out=..., json_output=...,
judges=...)."""


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
    manifest: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Score a model on this manifest's clips instead of a split part: new recordings, "
        "or `miao dataset pull`'s export (path,label,group columns; paths relative to it). "
        "Clips of the model's training or validation part are left out and counted.",
    ),
    as_dataset: str = typer.Option(
        None,
        help="With --manifest: read its rows as more of this shared dataset (its labels map "
        "into the task's as in training, e.g. new naya cats are `cat` for source). Without "
        "it, rows whose label is one of the task's are kept.",
    ),
    model: Path = typer.Option(
        None,
        file_okay=False,
        help="With --manifest: the model folder to score (default the shipped ml/weights/TASK).",
    ),
    judges: Path = typer.Option(
        None,
        file_okay=False,
        help="synth only: a weights folder whose source/ and cat-emotion/ judge the figures "
        "instead of the shipped ones (to compare with figures measured by earlier labellers).",
    ),
) -> None:
    """Evaluate a task's trained runs on one split part and write report.json + confusion.png.

    With --manifest, score one model (the shipped one by default) on recordings outside its
    split instead, and write report-manifest.json + confusion-manifest.png. Exit 2 on bad
    arguments or a manifest with nothing to score, 1 when the clips cannot be read.
    """
    if task in EVALUATORS:
        EVALUATORS[task](out=out, json_output=json_output, judges=judges)
        return
    if judges is not None:
        console.print(f"[red]error:[/] --judges goes with `miao eval synth`, not {task!r}")
        raise typer.Exit(2)
    if manifest is not None:
        _evaluate_manifest(task, manifest, as_dataset, model, out, json_output)
        return
    if as_dataset is not None or model is not None:
        console.print("[red]error:[/] --as-dataset and --model go with --manifest")
        raise typer.Exit(2)
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


def _evaluate_manifest(
    task: str,
    manifest: Path,
    as_dataset: str | None,
    model: Path | None,
    out: Path | None,
    json_output: bool,
) -> None:
    """``miao eval TASK --manifest CSV``: one model on recordings outside its split."""
    from backend.settings import get_settings
    from ml.audio import AudioError
    from ml.data import task_clips_from_csv
    from ml.evaluate import confusion_png, evaluate_model_on, write_report
    from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
    from ml.tasks import get_task
    from ml.train import model_split

    settings = get_settings()
    model_dir = model or WEIGHTS_DIR / task
    try:
        spec = get_task(task)
        if not (model_dir / "config.json").is_file():
            raise ValueError(f"{model_dir} is not a model folder (no config.json)")
        made_for = json.loads((model_dir / "config.json").read_text()).get("task")
        if made_for != task:
            raise ValueError(f"{model_dir} is a model of {made_for!r}, not {task!r}")
        rows = task_clips_from_csv(manifest, spec, as_dataset, human_labels_only=True)
        if not rows.clips:
            raise ValueError(
                f"{manifest}: no row has a label of {task} ({', '.join(spec.labels)}) that a "
                f"person gave; other labels: {', '.join(rows.dropped_labels) or 'none'}; "
                f"labelled by a model: {rows.model_labelled} (see --as-dataset)"
            )
        try:
            seen = model_split(model_dir, settings.shared_dir)
        except FileNotFoundError:
            seen = None  # no ../shared: which clips it trained on cannot be checked
            console.print(
                "[yellow]warning:[/] the model's split cannot be rebuilt without the shared "
                "data, so clips it trained on cannot be left out"
            )
        with console.status(f"labelling {len(rows.clips)} clip(s) with {model_dir}"):
            report = evaluate_model_on(
                model_dir, rows.clips, spec.labels, seen, settings.var_dir / "cache"
            )
    except (AudioError, FileNotFoundError) as exc:  # a clip that cannot be read
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    report.update(
        task=task,
        manifest=str(manifest),
        as_dataset=as_dataset,
        dropped_labels=rows.dropped_labels,
        filtered=rows.filtered,
        model_labelled=rows.model_labelled,
    )
    report["model_id"] = sha256_file(model_dir / WEIGHTS_FILE)
    report_dir = out or settings.var_dir / "reports" / task
    write_report(report, report_dir / "report-manifest.json")
    name = next(n for n in report["models"] if n != "majority")
    confusion_png(
        report["models"][name], report_dir / "confusion-manifest.png", f"{task}: {manifest.name}"
    )
    if rows.dropped_labels:
        console.print(f"rows left out (label not in {task}): {rows.dropped_labels}")
    if rows.filtered:
        console.print(f"rows left out by {as_dataset}'s filters, as in training: {rows.filtered}")
    if rows.model_labelled:
        console.print(f"rows left out (labelled by a model, not a person): {rows.model_labelled}")
    if report["left_out_seen"]:
        console.print(
            f"clips left out (in the model's training or validation part): "
            f"{report['left_out_seen']}"
        )
    for model_name, result in report["models"].items():
        extra = ""
        if spec.positive_label:
            f1 = result["per_class"][spec.positive_label]["f1"]
            extra = f"  {spec.positive_label} F1 {f1:.3f}"
        console.print(
            f"{model_name:<11} acc {result['accuracy']:.3f}  macro-F1 {result['macro_f1']:.3f}  "
            f"balanced acc {result['balanced_accuracy']:.3f}{extra}  ({report['n_clips']} clips)"
        )
    console.print(f"report: {report_dir / 'report-manifest.json'}")
    if json_output:
        typer.echo(json.dumps(report))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
