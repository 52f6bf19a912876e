"""``miao train TASK``: train the AST labeller (or a baseline) on a group split of the shared data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ml.data import Split

console = Console(stderr=True)

ARCH_HELP = "ast (the labeller), mfcc_cnn or yamnet_dnn (baselines), or all (baselines, then ast)."


def train(
    task: str = typer.Argument(
        ..., help="source, cat-emotion, cat-context, dog-bark or infant-cry."
    ),
    arch: str = typer.Option("ast", help=ARCH_HELP),
    epochs: int = typer.Option(30, min=1, help="Most epochs (early stopping may end sooner)."),
    seed: int = typer.Option(0, help="Seed of initialisation, sampling and augmentation."),
    split_seed: int = typer.Option(0, help="Seed of the group split (kept in split.csv)."),
    out: Path = typer.Option(
        None, help="Run folder (default var/runs/TASK); each arch gets a sub-folder."
    ),
    epoch_size: int = typer.Option(
        1024, min=0, help="Class-balanced draws per epoch (0: one pass over the training clips)."
    ),
    patience: int = typer.Option(8, min=1, help="Epochs without a better val macro-F1 to stop."),
    window: int = typer.Option(200, min=50, help="Frames per model window (10 ms each)."),
    lr: float = typer.Option(0.0, help="Learning rate (0: the arch's default)."),
    max_clips_per_class: int = typer.Option(
        0, min=0, help="Cap clips per label in train/val, for quick runs (0: no cap)."
    ),
    threads: int = typer.Option(2, min=1, help="torch CPU threads."),
    channels: str = typer.Option(
        "16,32,64",
        help="mfcc_cnn: widths of its VGG blocks, one block per width, comma-separated (16,32,64,128: four blocks).",
    ),
    distill: float = typer.Option(
        0.0,
        min=0.0,
        help="mfcc_cnn and ast: weight of a second loss on the YAMNet teacher's clip scores "
        "(knowledge distillation; needs ../shared/models/yamnet in training only). 0: off.",
    ),
    init_from: Path = typer.Option(
        None,
        exists=True,
        file_okay=False,
        help="ast: start from this `miao pretrain TASK` run's encoder (same task, same size). "
        "mfcc_cnn: start from this trained CNN's convolutions (a model folder of another task "
        "with the same --channels; it must not have heard this task's validation or test audio).",
    ),
    features_lr_scale: float = typer.Option(
        1.0,
        min=0.0,
        max=1.0,
        help="mfcc_cnn: learning rate of the convolutions, times --lr (0: frozen; with "
        "--init-from, 0 trains only the head on the donor's filters).",
    ),
    aug_copies: int = typer.Option(
        -1,
        min=-1,
        help="Waveform-augmented copies of every training clip, cached (-1: the task's default, "
        "0 for most).",
    ),
    aug_preset: str = typer.Option(
        "default",
        help="What those copies go through: default (stretch, pitch, gain, background noise, "
        "band-limit), phone (a random narrowband phone codec at 8 kHz, needs ffmpeg), device "
        "(a random EQ, then the phone codec) or band-limit (only the 4 kHz band-limit).",
    ),
    full_band: bool = typer.Option(
        False,
        "--full-band",
        help="Keep the whole 16 kHz band instead of the task's 4 kHz band-limit; pair it with "
        "--aug-copies 1 (a quarter of the default copies are band-limited; --aug-preset "
        "band-limit band-limits every copy) so the 8 kHz datasets' missing upper band cannot "
        "stand in for their labels. Tried on dog-bark: see its model card.",
    ),
    clip_mean: bool = typer.Option(
        False,
        "--clip-mean",
        help="mfcc_cnn: subtract each clip's mean MFCC first (cepstral mean normalisation: a "
        "stationary microphone or room colouring cancels out).",
    ),
    setup_adversary: float = typer.Option(
        0.0,
        min=0.0,
        help="mfcc_cnn: weight of a recording-setup adversary (gradient reversal, ml/domain.py) "
        "that pushes the model to hide which dataset a clip of a given label came from; "
        "training only, the saved weights are the same shape. 0: off.",
    ),
    labels_from_teacher: bool = typer.Option(
        False,
        "--labels-from-teacher",
        help="mfcc_cnn with --distill: read the labels from the distilled YAMNet scores alone "
        "(a small perceptron behind a stop-gradient), so the convolutions learn only to hear "
        "what YAMNet hears.",
    ),
    sound_kind: float = typer.Option(
        0.0,
        min=0.0,
        help="mfcc_cnn: weight of an auxiliary head that names what made each clip (its label in "
        "the source task, ml/sound_kind.py), so a binary task's negatives keep their kinds; "
        "training only, the saved weights are the same shape. 0: off.",
    ),
    weight_ema: float = typer.Option(
        0.0,
        min=0.0,
        max=0.9999,
        help="Validate and save an exponential moving average of the weights with this decay "
        "per step (e.g. 0.998) instead of the last step's weights (ml/weight_average.py). 0: off.",
    ),
    split_strata: str = typer.Option(
        "label",
        help="What the group split balances across train/val/test: label, or source_label (the "
        "label and each dataset's own label, e.g. a noise's kind). Needs a new run folder.",
    ),
    leave_out_dataset: list[str] = typer.Option(
        [],
        help="Keep this shared dataset out of the split altogether (repeatable), to measure the "
        "model on a recording setup it never heard: `miao eval TASK --manifest "
        "../shared/data/NAME/manifest.csv --as-dataset NAME --model RUN`. Needs a new run folder.",
    ),
    extra_manifest: list[Path] = typer.Option(
        [],
        exists=True,
        dir_okay=False,
        help="Also train on this manifest's clips whose label is in the task (e.g. the "
        "manifest.csv of `miao dataset pull`); repeatable. Needs a new run folder.",
    ),
) -> None:
    """Train on the group split (train part), stop early on validation macro-F1, keep the best.

    The run folder holds split.csv, config.json, history.json, model.safetensors and
    checkpoint.pt. The test part is not looked at: `miao eval TASK` does that once, at the end.
    """
    from backend.settings import get_settings
    from ml.train import ARCHES, DEFAULT_LR, TrainConfig
    from ml.train import train as run_training

    settings = get_settings()
    try:
        cnn_channels = [int(part) for part in channels.split(",")]
    except ValueError:
        console.print(f"[red]error:[/] --channels takes widths like 16,32,64, not {channels!r}")
        raise typer.Exit(2) from None
    arches = ["yamnet_dnn", "mfcc_cnn", "ast"] if arch == "all" else [arch]
    if any(a not in ARCHES for a in arches):
        console.print(f"[red]error:[/] unknown arch {arch!r}; {ARCH_HELP}")
        raise typer.Exit(2)
    if distill and arches == ["yamnet_dnn"]:
        console.print("[red]error:[/] yamnet_dnn runs on the teacher's scores: nothing to distil")
        raise typer.Exit(2)
    if init_from is not None and arches not in (["ast"], ["mfcc_cnn"]):
        console.print("[red]error:[/] --init-from is for one arch: ast or mfcc_cnn")
        raise typer.Exit(2)
    if clip_mean and arches != ["mfcc_cnn"]:
        console.print("[red]error:[/] --clip-mean is for --arch mfcc_cnn")
        raise typer.Exit(2)
    if setup_adversary and arches != ["mfcc_cnn"]:
        console.print("[red]error:[/] --setup-adversary is for --arch mfcc_cnn")
        raise typer.Exit(2)
    if labels_from_teacher and (arches != ["mfcc_cnn"] or not distill):
        console.print("[red]error:[/] --labels-from-teacher is for --arch mfcc_cnn with --distill")
        raise typer.Exit(2)
    if sound_kind and arches != ["mfcc_cnn"]:
        console.print("[red]error:[/] --sound-kind is for --arch mfcc_cnn")
        raise typer.Exit(2)
    if features_lr_scale != 1.0 and arches != ["mfcc_cnn"]:
        console.print("[red]error:[/] --features-lr-scale is for --arch mfcc_cnn")
        raise typer.Exit(2)
    base = out or settings.var_dir / "runs" / task
    if extra_manifest and (base / "split.csv").exists():
        console.print(f"[red]error:[/] {base} has a split already; use a new --out")
        raise typer.Exit(2)
    stored = _stored_split_settings(base)
    wanted = {"split_strata": split_strata, "leave_out_datasets": sorted(leave_out_dataset)}
    if stored is not None and stored != wanted:
        console.print(
            f"[red]error:[/] the runs in {base} share a split made with {stored}, not "
            f"{wanted}; use a new --out"
        )
        raise typer.Exit(2)
    try:
        if init_from is not None and arches == ["mfcc_cnn"]:
            from ml.transfer import check_donor

            check_donor(init_from, cnn_channels)  # a donor that does not fit: refused now
        elif init_from is not None:
            from ml.models import ASTSize
            from ml.pretrain import check_encoder

            defaults = TrainConfig(task=task)
            size = ASTSize.for_window(defaults.ast_size, window)
            check_encoder(init_from, task, size, split_seed, str(defaults.fill), split_strata)
        split = None
        if extra_manifest:
            split = _split_with_extra(
                task,
                split_seed,
                settings.shared_dir,
                extra_manifest,
                split_strata,
                sorted(leave_out_dataset),
            )
        for name in arches:
            config = TrainConfig(
                task=task,
                arch=name,
                epochs=epochs,
                seed=seed,
                split_seed=split_seed,
                epoch_size=epoch_size or None,
                patience=patience,
                window_frames=window,
                lr=lr or DEFAULT_LR[name],
                max_clips_per_class=max_clips_per_class or None,
                threads=threads,
                cnn_channels=cnn_channels,
                distill_weight=distill if name != "yamnet_dnn" else 0.0,
                init_from=str(init_from) if init_from else None,
                features_lr_scale=features_lr_scale,
                clip_mean=clip_mean,
                setup_adversary=setup_adversary,
                sound_kind_weight=sound_kind,
                labels_from_teacher=labels_from_teacher,
                weight_ema=weight_ema,
                aug_copies=None if aug_copies < 0 else aug_copies,
                aug_preset=aug_preset,
                full_band=full_band,
                split_strata=split_strata,
                leave_out_datasets=sorted(leave_out_dataset),
            )
            run_dir = base / name
            # every arch of a task shares the first one's split: copy it before training
            shared_split = base / "split.csv"
            if shared_split.exists() and not (run_dir / "split.csv").exists():
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / "split.csv").write_bytes(shared_split.read_bytes())
            result = run_training(
                config,
                run_dir,
                shared_dir=settings.shared_dir,
                cache_dir=settings.var_dir / "cache",
                split=split if not shared_split.exists() else None,
            )
            if not shared_split.exists():
                shared_split.write_bytes((run_dir / "split.csv").read_bytes())
            console.print(
                f"[green]{task}/{name}[/]: best epoch {result.best_epoch}, "
                f"val macro-F1 {result.val_macro_f1:.3f}, "
                f"balanced accuracy {result.val_balanced_accuracy:.3f} → {run_dir}"
            )
            typer.echo(
                json.dumps(
                    {
                        "task": task,
                        "arch": name,
                        "run_dir": str(run_dir),
                        "best_epoch": result.best_epoch,
                        "val_macro_f1": result.val_macro_f1,
                        "val_balanced_accuracy": result.val_balanced_accuracy,
                    }
                )
            )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _stored_split_settings(base: Path) -> dict[str, object] | None:
    """How the split shared by the runs in ``base`` was made (None: no run there yet)."""
    configs = sorted(base.glob("*/config.json"))
    if not (base / "split.csv").exists() or not configs:
        return None
    training = json.loads(configs[0].read_text()).get("training") or {}
    return {  # runs from before these fields: by label, nothing left out
        "split_strata": str(training.get("split_strata") or "label"),
        "leave_out_datasets": sorted(training.get("leave_out_datasets") or []),
    }


def _split_with_extra(
    task: str,
    seed: int,
    shared_dir: Path,
    manifests: list[Path],
    strata: str = "label",
    leave_out: list[str] | None = None,
) -> Split:
    """The task's group split over the shared data plus the manifests' clips in its labels."""
    from ml.data import clips_from_csv
    from ml.tasks import get_task
    from ml.train import make_split

    extra = [clip for path in manifests for clip in clips_from_csv(path)]
    added = sum(clip.label in get_task(task).labels for clip in extra)
    console.print(f"extra manifests: {added} clip(s) in the {task} labels added")
    return make_split(task, seed, shared_dir, strata, extra=extra, leave_out=leave_out or ())


def register(app: typer.Typer) -> None:
    app.command("train")(train)
