"""``miao eda DATASET``: per-class audio statistics of a shared dataset, and its bandpass band.

Writes ``eda.json``, a mean log-mel PNG per class and a spectra PNG under ``--out/<dataset>/``,
prints a table, and recommends the bandpass band that keeps every class's energy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ml.eda import DatasetReport

console = Console()
err_console = Console(stderr=True)


def eda(
    dataset: str = typer.Argument(
        ..., help="Dataset folder under <shared>/data (e.g. naya, catmeows), or 'all'."
    ),
    out: Path = typer.Option(
        None, "--out", help="Output folder (default: <var>/eda); one sub-folder per dataset."
    ),
    limit: int = typer.Option(
        None, "--limit", min=1, help="Analyse at most this many clips per class (by path order)."
    ),
    shared_dir: Path = typer.Option(
        None, "--shared-dir", help="Shared folder (default: MIAO_SHARED_DIR or ../shared)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report(s) instead."),
) -> None:
    """Per class: sample rates, durations, mean mel spectrogram (PNG), harmonics, RMS level and
    dominant frequency; from them the recommended bandpass band. Exit code 1 on a bad dataset."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from backend.settings import get_settings
    from ml.data import list_datasets
    from ml.eda import analyze_dataset

    settings = get_settings()
    shared = shared_dir or settings.shared_dir
    out_root = out or settings.var_dir / "eda"
    try:
        known = list_datasets(shared)
    except FileNotFoundError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    names = known if dataset == "all" else [dataset]
    unknown = [n for n in names if n not in known]
    if unknown:
        err_console.print(
            f"[red]error:[/red] unknown dataset {unknown[0]!r}; known: {', '.join(known)}"
        )
        raise typer.Exit(1)

    reports = []
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=as_json,
    ) as progress:
        for name in names:
            task = progress.add_task(name, total=None)

            def advance(done: int, total: int, task: int = task) -> None:
                progress.update(task, completed=done, total=total)

            reports.append(
                analyze_dataset(
                    name, out_root / name, shared, limit_per_class=limit, on_progress=advance
                )
            )

    if as_json:
        payload = [r.to_json() for r in reports]
        console.print_json(json.dumps(payload[0] if len(payload) == 1 else payload))
        return
    for report in reports:
        _print_report(report, out_root / report.dataset)


def _print_report(report: DatasetReport, folder: Path) -> None:
    table = Table(
        title=f"{report.dataset}: {report.clips} clips",
        title_justify="left",
        caption="dur: median seconds; RMS/active: mean dBFS of the clip / its loud part; harm: "
        "mean harmonics in voiced frames; dom.: median dominant frequency; band: central 95 % "
        "of the class's energy",
        caption_justify="left",
    )
    for column in ("class", "n", "rate", "dur s", "RMS dB", "active", "harm", "voiced"):
        table.add_column(column, justify="left" if column == "class" else "right")
    table.add_column("dom. Hz", justify="right")
    table.add_column("band Hz", justify="right")
    for c in report.classes:
        table.add_row(
            c.label,
            str(c.clips),
            ",".join(f"{int(r) // 1000}k" for r in c.sample_rates),
            f"{c.duration_s['median']:.2f}",
            f"{c.rms_db['mean']:.1f}",
            f"{c.active_rms_db['mean']:.1f}",
            f"{c.harmonics['mean']:.1f}",
            f"{c.voiced_fraction:.0%}",
            f"{c.dominant_hz['median']:.0f}",
            f"{c.energy_band_hz[0]:.0f}-{c.energy_band_hz[1]:.0f}",
        )
    console.print(table)
    low, high = report.recommended_band_hz
    if low and high:
        band = f"{low:.0f}-{high:.0f} Hz"
    elif high:
        band = f"lowpass at {high:.0f} Hz"
    elif low:
        band = f"highpass at {low:.0f} Hz"
    else:
        band = "none (the energy spans the whole band)"
    console.print(f"recommended bandpass: [bold]{band}[/bold] ({report.band_rationale})")
    if report.failures:
        console.print(
            f"[yellow]{len(report.failures)} clip(s) could not be read[/yellow] (see JSON)"
        )
    console.print(f"written: {folder}/eda.json, spectra.png, mel_<class>.png\n")


def register(app: typer.Typer) -> None:
    app.command("eda")(eda)
