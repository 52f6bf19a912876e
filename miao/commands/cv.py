"""``miao cv TASK``: grouped k-fold cross-validation on train + validation, to choose a config.

The small tasks cannot be judged on their one small validation split; this trains each
``--variant`` on the same seeded grouped folds (never the test part) and writes
``cv_report.json`` (per fold and mean ± sd accuracy, macro-F1, balanced accuracy, pooled
out-of-fold scores, the majority class) and ``folds.csv``. ``--final NAME`` then trains the
chosen variant on the project's train split for its fixed epochs (last epoch kept) into the runs
folder for ``miao eval``; ``--card NAME`` writes the CV figures into the shipped model card;
``--compare BASELINE`` sets every variant against one, fold by fold, over several fold seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)

VARIANT_HELP = (
    "NAME:key=value,... with TrainConfig keys (arch, epochs, balance, mixup_alpha, aug_copies, "
    "lr, epoch_size, crop_p, gain_db, ...); repeatable. Default: one mfcc_cnn variant."
)


def cv(
    task: str = typer.Argument(
        ..., help="source, cat-emotion, cat-context, dog-bark or infant-cry."
    ),
    variant: list[str] = typer.Option([], help=VARIANT_HELP),
    folds: int = typer.Option(5, min=2, help="Number of grouped folds."),
    seed: int = typer.Option(0, help="Seed of the folds and of every fold's training."),
    split_seed: int = typer.Option(
        0, help="Seed of the task's group split (its test part is left out)."
    ),
    epochs: int = typer.Option(20, min=1, help="Epochs per fold run (fixed: no early stopping)."),
    epoch_size: int = typer.Option(384, min=0, help="Draws per epoch (0: one pass)."),
    window: int = typer.Option(200, min=50, help="Frames per model window (10 ms each)."),
    threads: int = typer.Option(1, min=1, help="torch CPU threads."),
    max_clips_per_class: int = typer.Option(0, min=0, help="Cap clips per label (0: no cap)."),
    out: Path = typer.Option(None, help="CV folder (default var/cv/TASK)."),
    final: str = typer.Option(
        "",
        help="Skip CV; train this variant of the CV folder's cv_report.json on the train split "
        "(fixed epochs, last epoch kept) into --runs/<arch> for `miao eval`.",
    ),
    runs: Path = typer.Option(None, help="Runs folder for --final (default var/runs/TASK)."),
    card: str = typer.Option(
        "",
        help="Skip CV; add the cv_report.json figures to ml/weights/TASK/MODEL_CARD.md, marking "
        "this variant as shipped (run after `miao eval TASK --ship`; the runs folder's "
        "<arch>/final.json, from --final, adds which epoch was shipped).",
    ),
    note: str = typer.Option("", help="With --card: a closing remark for the section."),
    include: list[Path] = typer.Option(
        [],
        help="With --card: also the cv_report.json of these CV folders (same folds); with "
        "--compare: more CV folders, of any fold seed (those of one seed are merged). Repeatable.",
    ),
    compare: str = typer.Option(
        "",
        help="Skip CV; set every variant against this one, fold by fold, in the CV folder and "
        "the --include folders: mean per fold seed, folds won, lost and tied.",
    ),
    score: str = typer.Option(
        "",
        help="With --compare: accuracy, macro_f1, balanced_accuracy or f1:LABEL (default: the "
        "task's positive label F1 where it has one, else macro_f1).",
    ),
    group_weighted: bool = typer.Option(
        False,
        "--group-weighted",
        help="With --compare: score each fold again from its model, every held-out group "
        "counted once (a recording cut into many slices weighs as one clip; no label prior).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
) -> None:
    """Cross-validate configurations of a task on grouped folds of its train + validation parts."""
    from backend.settings import get_settings
    from ml import crossval

    settings = get_settings()
    out_dir = out or settings.var_dir / "cv" / task
    cache = settings.var_dir / "cache"
    try:
        from ml.tasks import get_task

        spec = get_task(task)
        if group_weighted and not compare:
            raise ValueError("--group-weighted rescoring is for --compare")
        if compare:
            folders = [out_dir, *include]
            reports = (
                [crossval.group_weighted_report(d, cache_dir=cache) for d in folders]
                if group_weighted
                else [crossval.read_report(d) for d in folders]
            )
            chosen = score or (f"f1:{spec.positive_label}" if spec.positive_label else "macro_f1")
            result = crossval.compare_variants(reports, compare, chosen)
            for name, r in result.items():
                seeds = ", ".join(
                    f"seed {row['seed']} {row['mean']:.3f} vs {row['baseline']:.3f}"
                    for row in r["per_seed"]
                )
                console.print(
                    f"{name} vs {compare} ({chosen}"
                    + (", each group once" if group_weighted else "")
                    + f"): {r['mean']:.3f} vs "
                    f"{r['baseline_mean']:.3f} over {r['folds']} folds; won {r['won']}, "
                    f"lost {r['lost']}, tied {r['tied']} ({seeds})"
                )
            if json_output:
                typer.echo(json.dumps(result))
            return
        if final or card:
            report_path = out_dir / crossval.REPORT
            report = crossval.read_report(out_dir)
            if card and include:
                more = [crossval.read_report(d) for d in include]
                report = crossval.merge_reports([report, *more])
            name = final or card
            if name not in report["variants"]:
                raise ValueError(
                    f"no variant {name!r} in {report_path}; it has {', '.join(report['variants'])}"
                )
            config = report["variants"][name]["config"]
            base = runs or settings.var_dir / "runs" / task
            run_dir = base / str(config["arch"])
            if final:
                info = crossval.train_final(
                    task,
                    config,
                    run_dir,
                    split_seed=int(report["split_seed"]),
                    shared_dir=settings.shared_dir,
                    cache_dir=cache,
                )
                if not (base / "split.csv").exists():
                    (base / "split.csv").write_bytes((run_dir / "split.csv").read_bytes())
                console.print(f"[green]{task}/{name}[/] trained: {info['weights']} → {run_dir}")
                typer.echo(json.dumps(info))
            else:
                from ml.registry import WEIGHTS_DIR

                card_path = WEIGHTS_DIR / task / "MODEL_CARD.md"
                if not card_path.is_file():
                    raise FileNotFoundError(f"no model card at {card_path}")
                final_path = run_dir / "final.json"
                extra = ""
                if final_path.is_file():  # the shipped weights came from --final: say so
                    extra = crossval.final_note(json.loads(final_path.read_text()))
                crossval.add_card_section(
                    card_path, report, name, " ".join(filter(None, [note, extra]))
                )
                console.print(f"[green]cross-validation section[/] → {card_path}")
            return
        specs = variant or ["mfcc_cnn:arch=mfcc_cnn"]
        variants = dict(crossval.parse_variant(text) for text in specs)
        if len(variants) != len(specs):
            raise ValueError("two variants share a name")
        base_settings = {
            "epochs": epochs,
            "epoch_size": epoch_size or None,
            "window_frames": window,
            "threads": threads,
            "split_seed": split_seed,
        }
        report = crossval.run_cv(
            task,
            variants,
            out_dir,
            k=folds,
            seed=seed,
            split_seed=split_seed,
            max_clips_per_class=max_clips_per_class or None,
            base=base_settings,
            shared_dir=settings.shared_dir,
            cache_dir=cache,
            log=console.print,
        )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(crossval.format_table(report))
    console.print(f"report: {out_dir / 'cv_report.json'} ({report['wall_s']:.0f} s)")
    if json_output:
        typer.echo(json.dumps(report))


def register(app: typer.Typer) -> None:
    app.command("cv")(cv)
