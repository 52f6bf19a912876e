"""``miao pretrain TASK``: self-supervised masked-patch pretraining of the AST for one task."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def pretrain(
    task: str = typer.Argument(
        ...,
        help="The task the encoder is for: its validation and test groups are left out "
        "(source, cat-emotion, cat-context, dog-bark or infant-cry).",
    ),
    epochs: int = typer.Option(30, min=1, help="Epochs (the last one's encoder is kept)."),
    epoch_size: int = typer.Option(2048, min=2, help="Windows drawn per epoch."),
    mask_ratio: float = typer.Option(0.5, help="Share of each window's patches blanked."),
    window: int = typer.Option(200, min=50, help="Frames per window: the fine-tune's --window."),
    lr: float = typer.Option(5e-4, help="Peak learning rate (cosine decay)."),
    seed: int = typer.Option(0, help="Seed of initialisation, sampling and masks."),
    split_seed: int = typer.Option(0, help="Seed of the task's group split (as in miao train)."),
    threads: int = typer.Option(2, min=1, help="torch CPU threads."),
    max_clips: int = typer.Option(0, min=0, help="At most this many clips, for quick runs."),
    out: Path = typer.Option(None, help="Run folder (default var/runs/pretrain/TASK)."),
) -> None:
    """Pretrain the AST encoder on all the project's audio except TASK's validation and test
    groups: blank half the log-mel patches, learn to rebuild them. No label is read.

    Then `miao train TASK --arch ast --init-from RUN` fine-tunes from it.

    Exit codes: 0 done, 2 bad arguments or no data.
    """
    from backend.settings import get_settings
    from ml.pretrain import PretrainConfig
    from ml.pretrain import pretrain as run_pretraining

    settings = get_settings()
    try:
        config = PretrainConfig(
            task=task,
            epochs=epochs,
            epoch_size=epoch_size,
            mask_ratio=mask_ratio,
            window_frames=window,
            lr=lr,
            seed=seed,
            split_seed=split_seed,
            threads=threads,
            max_clips=max_clips or None,
        )
        run_dir = out or settings.var_dir / "runs" / "pretrain" / task
        result = run_pretraining(
            config, run_dir, shared_dir=settings.shared_dir, cache_dir=settings.var_dir / "cache"
        )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    last = result.history[-1]
    console.print(
        f"[green]pretrained for {task}[/]: held-out reconstruction loss "
        f"{last['monitor_loss']:.3f} (each window's visible-patch mean: "
        f"{result.visible_mean_loss:.3f}) "
        f"→ {run_dir}"
    )
    typer.echo(
        json.dumps(
            {
                "task": task,
                "run_dir": str(run_dir),
                "encoder_id": result.encoder_id,
                "monitor_loss": last["monitor_loss"],
                "mean_predictor_loss": result.mean_predictor_loss,
                "visible_mean_loss": result.visible_mean_loss,
            }
        )
    )


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain)
