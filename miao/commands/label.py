"""``miao label FILE...``: label sound files with the shipped models.

Without ``--task`` each file goes through ``source`` and then the task that fits its source.
With ``--json`` every label is one JSON line ``{"path", "task", "label", "probabilities",
"model_id"}``; a file that cannot be read gets ``{"path", "error": {"code", "message"}}`` instead,
the other files are still labelled, and the exit code is 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def label(
    files: list[Path] = typer.Argument(..., help="Audio files (wav, flac, ogg, mp3, webm, m4a)."),
    task: str = typer.Option(
        None, help="Label with this task only (source, cat-emotion, cat-context, …)."
    ),
    json_output: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Label each file; unreadable files are reported and make the exit code 1."""
    from ml.audio import AudioError, load_audio
    from ml.registry import ModelNotFoundError, label_wave
    from ml.tasks import get_task

    if task is not None:
        try:
            get_task(task)
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    failed = 0
    for path in files:
        try:
            wave = load_audio(path)
        except (AudioError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            failed += 1
            code = (
                "not_found"
                if isinstance(exc, FileNotFoundError)
                else "unsupported_format"
                if type(exc).__name__ == "UnsupportedFormatError"
                else "unreadable"
            )
            if json_output:
                typer.echo(
                    json.dumps({"path": str(path), "error": {"code": code, "message": str(exc)}})
                )
            else:
                console.print(f"[red]{path}[/]: {exc}")
            continue
        try:
            predictions = label_wave(wave, task)
        except ModelNotFoundError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        for p in predictions:
            if json_output:
                typer.echo(
                    json.dumps(
                        {
                            "path": str(path),
                            "task": p.task,
                            "label": p.label,
                            "probabilities": p.probabilities,
                            "model_id": p.model_id,
                        }
                    )
                )
            else:
                display = get_task(p.task).display(p.label)
                typer.echo(
                    f"{path}\t{p.task}\t{p.label} ({display}, p={p.probabilities[p.label]:.2f})"
                )
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("label")(label)
