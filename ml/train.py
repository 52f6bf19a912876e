"""Training: one task, one architecture, a group split, early stopping on validation macro-F1.

A run is reproducible from its folder: ``split.csv`` (the group split it used), ``config.json``
(model, front end, input normalisation, training settings), ``history.json`` (loss and
validation metrics per epoch) and the best weights as ``model.safetensors``; ``checkpoint.pt``
holds the last epoch's optimiser state so an interrupted run can be looked at. The test split is
never touched here: :mod:`ml.evaluate` reads it once, at the end.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.metrics import balanced_accuracy_score, f1_score
from torch import nn

from ml.augment import AUG_PRESETS, mixup, spec_augment
from ml.data import (
    STRATA,
    Clip,
    Split,
    build_task_dataset,
    group_split,
    read_split,
    write_split,
)
from ml.domain import SetupAdversary, adversary_loss, reversal_scale, setup_targets
from ml.feature_cache import cached_augmented_features, cached_features
from ml.frontend import FrontEnd
from ml.models import FILLS, ASTClassifier, ASTSize, MfccCNN, YamnetDNN
from ml.models.baselines import DEFAULT_CNN_CHANNELS, check_cnn_depth
from ml.predict import InputSpec, clip_probabilities
from ml.sound_kind import SoundKindHead, kind_loss, kind_targets
from ml.tasks import get_task
from ml.weight_average import WeightAverage

ARCHES = ("ast", "mfcc_cnn", "yamnet_dnn")

NEGATIVE_LABEL: dict[str, str] = {"source": "other", "dog-bark": "non_bark"}
"""The label synthetic noise/silence/tone clips get, for tasks that have such a label."""

MIN_CROP_FRAMES = 25  # 0.25 s: the shortest random crop

BAND_LIMIT_HZ: dict[str, int | None] = {
    # Classes drawn from 8 kHz and 16 kHz datasets: band-limit everything to 4 kHz so the
    # sample rate cannot stand in for the class. 8 kHz-only tasks get it too, so a 16 kHz
    # upload looks like their training data.
    "source": 4000,
    "dog-bark": 4000,
    "cat-context": 4000,
    "infant-cry": 4000,
    "cat-emotion": None,  # naya is 16 kHz throughout (6 of 2508 clips came band-limited)
}

LENGTH_GUARD: dict[str, dict[str, float | int | str]] = {
    # Tasks whose classes come from datasets of different typical lengths: in ``source`` every
    # spoken digit is under 1.3 s (one window, mostly padding) while cries and noise clips are
    # 5-7 s, and the first model learned "mostly padding -> human_speech, none -> cat". Short
    # clips are tiled instead of padded (training and inference), every class gets random-length
    # crops, and synthetic noise/silence/tones (0.3-6 s) are ``other``. See TrainConfig.
    # Chosen on validation: gain jitter and noise-mixed copies lowered val macro-F1 (about 0.60
    # with them); padding instead of tiling kept part of the shortcut (0.3 s cat crops -> cat
    # 0.27, 0.3 s crops of anything -> human_speech 0.42). dog-bark has the same shortcut (0.3 s
    # bark crops: 0/13 bark) but the guarded run lost on validation (bark F1 about 0.77 vs 0.88)
    # and in 15-fold cross-validation (0.58 vs 0.68); crops alone kept short barks at 0.68 but
    # called pure tones bark (dog-bark card), so it is not switched on there.
    "source": {
        "fill": "tile",
        "crop_p": 0.35,
        "gain_db": 0.0,
        "synthetic_negatives": 420,
        "aug_copies": 0,
    },
}

SPLIT_FRACTIONS: dict[str, tuple[float, float, float]] = {
    # 17 cats: a 15 % test part would be two or three cats; 20 % gives a less noisy estimate.
    "cat-context": (0.6, 0.2, 0.2),
}


TEACHER_OUTPUTS = 2 * 521
"""What a distilled model learns beside its labels: the YAMNet teacher's ``[mean ‖ max]`` scores."""

DEFAULT_LR = {"ast": 5e-4, "mfcc_cnn": 2e-3, "yamnet_dnn": 1e-3}
"""The per-arch learning rate ``miao train`` and ``miao cv`` use when none is given."""


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in its ``config.json``)."""

    task: str
    arch: str = "ast"
    epochs: int = 40
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    patience: int = 10
    seed: int = 0
    split_seed: int = 0
    # What the split balances across its parts (ml.data.STRATA): "label", or "source_label" (the
    # label and each dataset's own label). Tried on source, 2026-11-29: see its model card.
    split_strata: str = "label"
    # Datasets kept out of the split altogether, so that a model can be measured on a whole
    # recording setup it never heard (``miao eval TASK --manifest ... --as-dataset NAME``).
    leave_out_datasets: list[str] = field(default_factory=list)
    mixup_alpha: float = 0.3
    spec_augment: bool = True
    balance: str = "sampler"  # sampler: class-balanced draws; loss: weighted CE; none
    epoch_size: int | None = None  # draws per epoch (None: the training set's size)
    max_clips_per_class: int | None = None  # cap per label, for quick runs and tests
    window_frames: int = 300
    ast_size: dict[str, int | float] = field(default_factory=lambda: asdict(ASTSize()))
    cnn_channels: list[int] = field(default_factory=lambda: list(DEFAULT_CNN_CHANNELS))
    # Knowledge distillation (mfcc_cnn, ast): weight of the loss on YAMNet's pooled clip scores,
    # learnt by a second head (the AST: on its distillation token). Teacher in training only.
    distill_weight: float = 0.0
    # mfcc_cnn: read the labels from the teacher head's scores alone, behind a stop-gradient, so
    # the convolutions learn only from the teacher (MfccCNN.labels_from_teacher). Needs distill.
    labels_from_teacher: bool = False
    # Where the weights start: the AST from a self-supervised encoder (``miao pretrain``), the
    # mfcc_cnn from another trained CNN's convolutions (:mod:`ml.transfer`); None: from scratch.
    init_from: str | None = None
    # mfcc_cnn: weight of a recording-setup adversary behind a gradient reversal (ml.domain),
    # which pushes the embedding to hide which setup (dataset) a clip of a given label came from.
    setup_adversary: float = 0.0
    # mfcc_cnn: weight of an auxiliary head that names what made the sound (the clip's label in
    # the ``source`` task, ml.sound_kind), so a binary task's "everything else" keeps its kinds.
    sound_kind_weight: float = 0.0
    features_lr_scale: float = 1.0  # mfcc_cnn: learning rate of the convolutions (0: frozen)
    clip_mean: bool = False  # mfcc_cnn: cepstral mean normalisation per clip (InputSpec)
    threads: int = 2
    # Length-shortcut guards (None: the task's default from LENGTH_GUARD, else off):
    fill: str | None = None  # clips shorter than a window: "pad" or "tile" (train and inference)
    crop_p: float | None = None  # share of draws cut to a random length (0.25 s .. one window)
    gain_db: float | None = None  # level jitter, +-dB (MFCC: a c0 shift; logmel: a bin shift)
    synthetic_negatives: int | None = None  # noise/silence/tone clips added to the negative label
    synthetic_share: float = 0.35  # of the negative label's draws that are synthetic
    aug_copies: int | None = None  # cached waveform-augmented copies (background noise, ...)
    aug_preset: str = "default"  # what those copies go through (ml.augment.AUG_PRESETS)
    bn_recalibrate: bool = True  # BatchNorm statistics from fixed batches before each validation
    # Decay of an exponential moving average of the weights (ml.weight_average), which is then
    # what is validated and saved; 0: off (the weights of the last step are).
    weight_ema: float = 0.0
    # Keep the whole 16 kHz band instead of the task's 4 kHz band-limit (BAND_LIMIT_HZ). The
    # 8 kHz datasets still lack the upper band, so pair it with augmented copies, some of them
    # band-limited (``aug_copies``; ``aug_preset="band-limit"`` for all), and check band-limited
    # positives (ml_shortcut_check). dog-bark, cross-validated: its card.
    full_band: bool = False

    def __post_init__(self) -> None:
        get_task(self.task)
        guard = LENGTH_GUARD.get(self.task, {})
        if self.split_strata not in STRATA:
            raise ValueError(f"split_strata must be one of {STRATA}, not {self.split_strata!r}")
        read = {source.dataset for source in get_task(self.task).sources}
        unknown = sorted(set(self.leave_out_datasets) - read)
        if unknown:
            raise ValueError(
                f"{self.task} does not read {', '.join(unknown)}; it reads {', '.join(sorted(read))}"
            )
        if self.leave_out_datasets and self.init_from and self.arch == "ast":
            raise ValueError(
                "a pretrained encoder left out the full split's evaluation groups, not this one's"
            )
        if self.fill is None:
            self.fill = str(guard.get("fill", "pad"))
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {self.fill!r}")
        if self.crop_p is None:
            self.crop_p = float(guard.get("crop_p", 0.0))
        if self.gain_db is None:
            self.gain_db = float(guard.get("gain_db", 0.0))
        if self.synthetic_negatives is None:
            self.synthetic_negatives = int(guard.get("synthetic_negatives", 0))
        if self.aug_copies is None:
            self.aug_copies = int(guard.get("aug_copies", 0))
        if self.aug_preset not in AUG_PRESETS:
            raise ValueError(
                f"aug_preset must be one of {sorted(AUG_PRESETS)}, not {self.aug_preset!r}"
            )
        if not 0.0 <= self.crop_p <= 1.0:
            raise ValueError(f"crop_p must be in [0, 1], got {self.crop_p}")
        if self.synthetic_negatives and NEGATIVE_LABEL.get(self.task) is None:
            raise ValueError(f"{self.task} has no negative label for synthetic negatives")
        if not 0.0 < self.synthetic_share < 1.0:
            raise ValueError(f"synthetic_share must be in (0, 1), got {self.synthetic_share}")
        if self.arch not in ARCHES:
            raise ValueError(f"unknown arch {self.arch!r}; known: {', '.join(ARCHES)}")
        if self.distill_weight < 0:
            raise ValueError(f"distill_weight must be >= 0, got {self.distill_weight}")
        if self.distill_weight and self.arch == "yamnet_dnn":
            raise ValueError("yamnet_dnn runs on the teacher's scores: there is nothing to distil")
        if self.labels_from_teacher and (self.arch != "mfcc_cnn" or not self.distill_weight):
            raise ValueError("labels_from_teacher is for an mfcc_cnn that distils (distill_weight)")
        if self.labels_from_teacher and self.sound_kind_weight:
            raise ValueError(
                "labels_from_teacher keeps labels off the convolutions; a sound-kind head would "
                "train the convolutions on labels again"
            )
        if self.setup_adversary < 0 or (self.setup_adversary and self.arch != "mfcc_cnn"):
            raise ValueError(
                f"setup_adversary must be >= 0 and only for mfcc_cnn, got "
                f"{self.setup_adversary} for {self.arch}"
            )
        if self.sound_kind_weight < 0 or (self.sound_kind_weight and self.arch != "mfcc_cnn"):
            raise ValueError(
                f"sound_kind_weight must be >= 0 and only for mfcc_cnn, got "
                f"{self.sound_kind_weight} for {self.arch}"
            )
        if self.init_from and self.arch == "yamnet_dnn":
            raise ValueError("the yamnet_dnn has nothing to start from (--init-from)")
        if not 0.0 <= self.weight_ema < 1.0:
            raise ValueError(f"weight_ema must be in [0, 1), got {self.weight_ema}")
        if not 0.0 <= self.features_lr_scale <= 1.0 or (
            self.features_lr_scale != 1.0 and self.arch != "mfcc_cnn"
        ):
            raise ValueError(
                f"features_lr_scale must be in [0, 1] and only for mfcc_cnn, got "
                f"{self.features_lr_scale} for {self.arch}"
            )
        if self.full_band and BAND_LIMIT_HZ.get(self.task) is None:
            raise ValueError(f"{self.task} is not band-limited: full_band changes nothing there")
        if self.clip_mean and self.arch != "mfcc_cnn":
            raise ValueError("clip_mean (cepstral mean normalisation) is for the mfcc_cnn")
        if not self.cnn_channels or min(self.cnn_channels) < 1:
            raise ValueError(f"cnn_channels must be positive widths, got {self.cnn_channels}")
        if self.arch == "mfcc_cnn":
            check_cnn_depth(len(self.cnn_channels), self.window_frames)
        if self.balance not in ("sampler", "loss", "none"):
            raise ValueError(f"balance must be sampler, loss or none, not {self.balance!r}")

    @property
    def band_limit_hz(self) -> int | None:
        """The band the model hears: the task's band-limit, or the whole band (``full_band``)."""
        return None if self.full_band else BAND_LIMIT_HZ.get(self.task)

    @property
    def front_end(self) -> FrontEnd:
        kind = {"ast": "logmel", "mfcc_cnn": "mfcc", "yamnet_dnn": "yamnet"}[self.arch]
        return FrontEnd(kind, band_limit_hz=self.band_limit_hz)

    @property
    def teacher_front_end(self) -> FrontEnd:
        """YAMNet on the same band-limited audio the student hears (the yamnet_dnn's features)."""
        return FrontEnd("yamnet", band_limit_hz=self.band_limit_hz)


@dataclass
class TrainResult:
    """What a run produced: its folder, the best epoch and its validation scores."""

    run_dir: Path
    best_epoch: int
    val_macro_f1: float
    val_balanced_accuracy: float
    history: list[dict[str, float]]


def best_epoch(run_dir: Path) -> dict[str, Any] | None:
    """The run's best epoch by validation macro-F1 from its ``history.json`` (with
    ``epochs_run``, how many it ran), or None when the folder keeps no history."""
    path = run_dir / "history.json"
    if not path.is_file():
        return None
    history = json.loads(path.read_text())
    return {**max(history, key=lambda h: h["val_macro_f1"]), "epochs_run": len(history)}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_split(
    task: str,
    seed: int,
    shared_dir: Path | None = None,
    strata: str = "label",
    extra: Sequence[Clip] = (),
    leave_out: Sequence[str] = (),
) -> Split:
    """The task's seeded group split (balanced by ``strata``: ``ml.data.STRATA``), over the
    shared data, less the ``leave_out`` datasets, plus ``extra`` clips in its labels."""
    clips = [
        clip
        for clip in build_task_dataset(task, shared_dir, extra=extra)
        if clip.dataset not in leave_out
    ]
    return group_split(
        clips,
        SPLIT_FRACTIONS.get(task, (0.7, 0.15, 0.15)),
        seed=seed,
        strata=strata,
    )


def model_split(folder: Path, shared_dir: Path | None = None) -> Split:
    """The split a trained model (a run or weights folder) was made on: its ``split.csv``, or
    rebuilt from the seed and strata its config records (runs from before ``split_strata``
    were balanced by label)."""
    config = json.loads((folder / "config.json").read_text())
    split_csv = folder / "split.csv"
    if split_csv.is_file():
        return read_split(split_csv, shared_dir)
    training = config.get("training") or config["members"][0]["training"]
    strata = training.get("split_strata") or "label"
    leave_out = training.get("leave_out_datasets") or ()
    return make_split(
        config["task"], int(training["split_seed"]), shared_dir, strata, leave_out=leave_out
    )


def cap_per_class(clips: Sequence[Clip], cap: int | None, seed: int) -> list[Clip]:
    """At most ``cap`` clips per label, drawn reproducibly (None keeps everything)."""
    if cap is None:
        return list(clips)
    rng = random.Random(seed)
    by_label: dict[str, list[Clip]] = {}
    for clip in clips:
        by_label.setdefault(clip.label, []).append(clip)
    kept: list[Clip] = []
    for label in sorted(by_label):
        members = by_label[label]
        kept.extend(rng.sample(members, min(cap, len(members))))
    return kept


def build_fresh_model(config: TrainConfig, labels: list[str]) -> nn.Module:
    if config.arch == "ast":
        size = ASTSize.for_window(config.ast_size, config.window_frames)
        return ASTClassifier(labels, size, TEACHER_OUTPUTS if config.distill_weight else 0)
    if config.arch == "mfcc_cnn":
        return MfccCNN(
            labels,
            window_frames=config.window_frames,
            channels=config.cnn_channels,
            teacher_outputs=TEACHER_OUTPUTS if config.distill_weight else 0,
            labels_from_teacher=config.labels_from_teacher,
        )
    return YamnetDNN(labels)


def parameter_groups(
    model: nn.Module, lr: float, features_lr_scale: float = 1.0
) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the CNN's convolutions at ``features_lr_scale`` times
    the learning rate (left out, and frozen, at 0), everything else at ``lr``."""
    from ml.transfer import feature_parameters

    features = feature_parameters(model) if features_lr_scale != 1.0 else []
    ids = {id(p) for p in features}
    rest = [p for p in model.parameters() if id(p) not in ids]
    if not features_lr_scale:
        for p in features:
            p.requires_grad_(False)
        return [{"params": rest}]
    groups: list[dict[str, Any]] = [{"params": rest}]
    if features:
        groups.append({"params": features, "lr": lr * features_lr_scale})
    return groups


def input_spec_for(config: TrainConfig, train_features: Sequence[np.ndarray]) -> InputSpec:
    """Window settings, plus per-coefficient standardisation for MFCC (from training clips)."""
    kind = config.front_end.kind
    if kind == "yamnet":
        return InputSpec(kind)
    window = config.window_frames
    fill = str(config.fill)
    if kind == "mfcc":
        plain = InputSpec(kind, clip_mean=config.clip_mean)  # only the per-clip step, if any
        stacked = np.concatenate([plain.normalise(x) for x in train_features], axis=0)
        mean, std = stacked.mean(0), stacked.std(0) + 1e-5
        return InputSpec(
            kind, window, window, mean.tolist(), std.tolist(), fill=fill, clip_mean=config.clip_mean
        )
    # Non-overlapping windows (the last one aligned to the clip's end): a 5 s clip is 3 windows
    # of 2 s, which keeps labelling under the 50 ms / 50 clips-per-second budget on two cores.
    return InputSpec(kind, window, window, fill=fill)


def _gain_shift(kind: str) -> float:
    """How much one dB of level moves the (unnormalised) features of ``kind``.

    librosa MFCC: log-mel in dB, orthonormal DCT over 64 mels -> c0 moves 8 per dB, the other
    coefficients not at all (measured). AST log-mel: natural log of power -> ln(10)/10 per dB
    in every bin, then divided by 2 * 4.5 by the AudioSet normalisation.
    """
    return {"mfcc": 8.0, "logmel": math.log(10) / 10 / (2 * 4.5)}.get(kind, 0.0)


def _random_crop(
    features: np.ndarray, frames: int, rng: np.random.Generator, energy_row: int | None
) -> np.ndarray:
    """A random-length piece (log-uniform 0.25 s .. ``frames``) of a clip's features.

    The start is the loudest of three random candidates (by ``energy_row``, c0 for MFCC, else
    the mean over bins), so a
    short crop of a cat clip is a cat sound, not the room between two meows.
    """
    total = len(features)
    length = round(math.exp(rng.uniform(math.log(MIN_CROP_FRAMES), math.log(frames))))
    length = max(1, min(length, total))
    starts = rng.integers(0, total - length + 1, size=3)
    energy = features[:, energy_row] if energy_row is not None else features.mean(1)
    start = int(max(starts, key=lambda s: float(energy[s : s + length].mean())))
    return features[start : start + length]


def training_window(
    features: np.ndarray,
    frames: int,
    pad: float,
    rng: np.random.Generator,
    *,
    crop_p: float = 0.0,
    gain: float = 0.0,
    kind: str = "mfcc",
    fill: str = "pad",
) -> np.ndarray:
    """One training window: optionally a random-length crop and a level shift, then filled.

    Crops are drawn the same way for every class, so how long the sound in a window is says
    nothing about the label. ``gain`` is the normalised feature shift of the level jitter
    (applied to the sound, not to the padding). A short piece is padded at a random place
    (``fill="pad"``) or repeated from a random phase (``fill="tile"``, as at inference).
    """
    if crop_p > 0 and rng.random() < crop_p:
        features = _random_crop(features, frames, rng, 0 if kind == "mfcc" else None)
    elif len(features) > frames:
        start = int(rng.integers(0, len(features) - frames + 1))
        features = features[start : start + frames]
    if gain:
        features = features.copy()
        if kind == "mfcc":
            features[:, 0] += gain
        else:
            features += gain
    if fill == "tile" and len(features) < frames:
        total = len(features)
        tiled = np.tile(features, (-(-frames // total) + 1, 1))
        start = int(rng.integers(0, total))
        return np.ascontiguousarray(tiled[start : start + frames])
    return random_window(features, frames, pad, rng)


def random_window(
    features: np.ndarray, frames: int, pad: float, rng: np.random.Generator
) -> np.ndarray:
    total = len(features)
    if total >= frames:
        start = int(rng.integers(0, total - frames + 1))
        return features[start : start + frames]
    out = np.full((frames, features.shape[1]), pad, dtype=np.float32)
    start = int(rng.integers(0, frames - total + 1))
    out[start : start + total] = features
    return out


def _synthetic_negatives(
    config: TrainConfig, front_end: FrontEnd, spec: InputSpec
) -> list[np.ndarray]:
    """Normalised features of the run's synthetic negatives (noise, silence, tones; 0.3-6 s)."""
    if not config.synthetic_negatives or spec.kind == "yamnet":
        return []
    from ml.negatives import negative_waves
    from ml.registry import rounded_features  # the float16 round trip the cached features had

    waves = negative_waves(int(config.synthetic_negatives), seed=config.seed)
    return [spec.normalise(rounded_features(front_end, w)).astype(np.float32) for _, w in waves]


def _setup_adversary(
    config: TrainConfig, train_clips: Sequence[Clip], labels: list[str], n_synthetic: int
) -> tuple[np.ndarray, np.ndarray, SetupAdversary | None]:
    """The recording-setup adversary and its targets per training row (none when it is off).

    The synthetic negatives after the real clips have no recording setup: zero rows.
    """
    if not config.setup_adversary:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), None
    targets = setup_targets(train_clips, labels)
    if not targets.contested.any():
        raise ValueError(
            f"no label of {config.task} comes from two recording setups in training: "
            "a setup adversary has nothing to tell apart"
        )
    pad = np.zeros((n_synthetic, len(targets.setups)), np.float32)
    adversary = SetupAdversary(config.cnn_channels[-1], len(targets.setups))
    return (
        np.concatenate([targets.target, pad]),
        np.concatenate([targets.allowed, pad]),
        adversary,
    )


def _sound_kind_head(
    config: TrainConfig, train_clips: Sequence[Clip], n_synthetic: int
) -> tuple[np.ndarray, SoundKindHead | None]:
    """The sound-kind head and its targets per training row (none when it is off).

    The synthetic negatives after the real clips get zero rows: they add nothing to its loss.
    """
    if not config.sound_kind_weight:
        return np.zeros((0, 0), np.float32), None
    target = kind_targets(train_clips)
    if len(np.unique(target.argmax(1)[target.sum(1) > 0])) < 2:
        raise ValueError(
            f"the training clips of {config.task} are all of one kind of sound: a sound-kind "
            "head has nothing to name"
        )
    head = SoundKindHead(config.cnn_channels[-1], target.shape[1])
    return np.concatenate([target, np.zeros((n_synthetic, target.shape[1]), np.float32)]), head


def warmup_cosine(
    optimiser: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps``, then cosine decay to zero at ``total_steps``."""

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        done = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, lr_at)


def epoch_progress(progress: bool = True) -> Any:
    """The epoch bar of a training run (its ``info`` field carries loss and validation)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[info]}"),
        TimeRemainingColumn(),
        disable=not progress,
    )


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Sequence[torch.Tensor]) -> None:
    """Set every BatchNorm's running statistics to their plain average over ``batches``.

    Why: the running averages otherwise follow the last few dozen training batches, and with
    windows as unlike as a whole cry, a tiled 0.3 s crop and digital silence in one batch they
    swing from epoch to epoch, and the validation score swings with them (0.18 to 0.82 accuracy
    between neighbouring epochs in the first length-guarded run). A fixed set of batches makes
    the evaluated model a function of its weights alone.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not batches:
        return
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for xb in batches:
        model(xb)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)


def scores(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> dict[str, float]:
    labels = list(range(n_classes))
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


def left_out_watch(
    config: TrainConfig,
    front_end: FrontEnd,
    shared_dir: Path | None,
    cache_dir: Path,
    labels: Sequence[str],
) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Per left-out dataset, its clips' features and label indices, to score every epoch.

    What a run that never heard a recording setup makes of it swings from epoch to epoch far
    more than validation does (source without CatMeows: 331 of its 384 cats called cat at the
    best validation epoch, 10 at the last), so the history records it (``left_out_<dataset>``:
    the share given their own label). It is watched, never used to choose an epoch.
    """
    if not config.leave_out_datasets:
        return {}
    clips = [
        c
        for c in build_task_dataset(config.task, shared_dir)
        if c.dataset in config.leave_out_datasets
    ]
    features = cached_features([c.path for c in clips], front_end, cache_dir, "left-out features")
    watched = {}
    for dataset in config.leave_out_datasets:
        rows = [i for i, c in enumerate(clips) if c.dataset == dataset]
        watched[dataset] = (
            [features[i] for i in rows],
            np.array([labels.index(clips[i].label) for i in rows]),
        )
    return watched


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
    split: Split | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train one model; the split is reused from ``run_dir/split.csv`` when it is there."""
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    spec_task = get_task(config.task)
    labels = list(spec_task.labels)
    run_dir.mkdir(parents=True, exist_ok=True)
    split_path = run_dir / "split.csv"
    if split is None:
        split = read_split(split_path, shared_dir) if split_path.exists() else None
    if split is None:
        split = make_split(
            config.task,
            config.split_seed,
            shared_dir,
            config.split_strata,
            leave_out=config.leave_out_datasets,
        )
    write_split(split, split_path, shared_dir)

    train_clips = cap_per_class(split.train, config.max_clips_per_class, config.seed)
    val_clips = cap_per_class(split.val, config.max_clips_per_class, config.seed)
    front_end = config.front_end
    x_train = cached_features([c.path for c in train_clips], front_end, cache_dir)
    x_val = cached_features([c.path for c in val_clips], front_end, cache_dir)
    y_train = np.array([labels.index(c.label) for c in train_clips])
    y_val = np.array([labels.index(c.label) for c in val_clips])

    spec = input_spec_for(config, x_train)
    x_train = [spec.normalise(x).astype(np.float32) for x in x_train]
    watched = left_out_watch(config, front_end, shared_dir, cache_dir, labels)
    # Alternatives per training clip: the clean features, then waveform-augmented copies.
    x_choices: list[list[np.ndarray]] = [[x] for x in x_train]
    if config.aug_copies and spec.kind != "yamnet":
        from ml.augment import background_noise_files

        noise = background_noise_files(shared_dir, exclude=[*split.val, *split.test])
        for copy in range(config.aug_copies):
            augmented = cached_augmented_features(
                [c.path for c in train_clips],
                front_end,
                cache_dir,
                noise,
                config.seed,
                copy,
                config.aug_preset,
            )
            for choices, feats in zip(x_choices, augmented, strict=True):
                choices.append(spec.normalise(feats).astype(np.float32))
    synthetic = _synthetic_negatives(config, front_end, spec)
    n_real = len(x_choices)
    x_choices.extend([[x] for x in synthetic])
    negative = NEGATIVE_LABEL.get(config.task)
    if synthetic:
        y_train = np.concatenate([y_train, np.full(len(synthetic), labels.index(str(negative)))])
    # Teacher targets per training clip, and a weight that leaves the synthetic clips out.
    teacher = np.zeros((len(y_train), TEACHER_OUTPUTS if config.distill_weight else 0), np.float32)
    teacher_mask = np.zeros(len(y_train), dtype=np.float32)
    if config.distill_weight:
        scores_of = cached_features(
            [c.path for c in train_clips], config.teacher_front_end, cache_dir, "teacher scores"
        )
        teacher[:n_real] = np.clip(np.stack(scores_of)[:, :TEACHER_OUTPUTS], 0.0, 1.0)
        teacher_mask[:n_real] = 1.0
    setup_target, setup_allowed, adversary = _setup_adversary(
        config, train_clips, labels, len(y_train) - n_real
    )
    kind_target, kind_head = _sound_kind_head(config, train_clips, len(y_train) - n_real)
    model = build_fresh_model(config, labels)
    pretrained = None
    if config.init_from and config.arch == "mfcc_cnn":
        from ml.transfer import load_cnn_features

        pretrained = load_cnn_features(model, Path(config.init_from))  # type: ignore[arg-type]
    elif config.init_from:
        from ml.pretrain import load_encoder

        pretrained = load_encoder(
            model,  # type: ignore[arg-type]
            Path(config.init_from),
            config.task,
            config.split_seed,
            str(config.fill),
            config.split_strata,
        )
    head = getattr(model, "teacher_head", None)
    if config.distill_weight and head is not None:
        # Start the teacher head at the training clips' mean scores: most of the 1,042 are near
        # zero, and climbing from sigmoid(0) = 0.5 to there would take thousands of steps.
        base = teacher[:n_real].mean(0).clip(1e-4, 1 - 1e-4)
        with torch.no_grad():
            head.bias.copy_(torch.from_numpy(np.log(base / (1 - base))))
    model_config = {
        "task": config.task,
        "labels": labels,
        "model": model.config_dict(),  # type: ignore[operator]
        "front_end": front_end.to_dict(),
        "input": spec.to_dict(),
        "training": asdict(config),
    }
    if pretrained is not None:
        model_config["pretrained"] = pretrained
    (run_dir / "config.json").write_text(json.dumps(model_config, indent=2))

    counts = Counter(y_train.tolist())
    class_weight = torch.tensor(
        [len(y_train) / (len(labels) * max(counts.get(i, 0), 1)) for i in range(len(labels))],
        dtype=torch.float32,
    )
    draw_p = np.array([1.0 / counts[y] for y in y_train])
    if synthetic:  # synthetic clips get ``synthetic_share`` of the negative label's draws
        neg = labels.index(str(negative))
        real_neg = int(np.sum(y_train[:n_real] == neg))
        share = config.synthetic_share if real_neg else 1.0
        # the label's draws still sum to 1, like every other label's
        draw_p[n_real:] = share / len(synthetic)
        draw_p[:n_real][y_train[:n_real] == neg] = (1 - share) / max(real_neg, 1)
    draw_p /= draw_p.sum()
    gain_step = _gain_shift(spec.kind) / (spec.std[0] if spec.kind == "mfcc" else 1.0)
    epoch_size = config.epoch_size or len(y_train)
    steps_per_epoch = math.ceil(epoch_size / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = steps_per_epoch * config.warmup_epochs

    groups = parameter_groups(model, config.lr, config.features_lr_scale)
    if adversary is not None:
        groups.append({"params": list(adversary.parameters()), "lr": config.lr})
    if kind_head is not None:
        groups.append({"params": list(kind_head.parameters()), "lr": config.lr})
    optimiser = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)

    scheduler = warmup_cosine(optimiser, total_steps, warmup)
    rng = np.random.default_rng(config.seed)

    def draw_batch(idx: np.ndarray, gen: np.random.Generator) -> torch.Tensor:
        """Model input for training clips ``idx``: one augmented, filled window each."""
        if spec.kind == "yamnet":
            return torch.from_numpy(np.stack([x_choices[i][0] for i in idx]))
        windows = []
        for i in idx:
            choices = x_choices[i]
            feats = choices[int(gen.integers(len(choices)))]
            gain = gain_step * gen.uniform(-1, 1) * float(config.gain_db or 0.0)
            windows.append(
                training_window(
                    feats,
                    spec.window_frames,
                    spec.pad_value,
                    gen,
                    crop_p=float(config.crop_p or 0.0),
                    gain=gain,
                    kind=spec.kind,
                    fill=spec.fill,
                )
            )
        return torch.from_numpy(np.stack(windows))

    # Fixed class-balanced batches for recalibrating BatchNorm before each validation.
    calib_rng = np.random.default_rng([config.seed, 1])
    calib_idx = calib_rng.choice(len(y_train), size=(16, config.batch_size), replace=True, p=draw_p)
    calibration = [draw_batch(row, calib_rng) for row in calib_idx] if config.bn_recalibrate else []
    weight = class_weight if config.balance == "loss" else None
    distilling = config.distill_weight > 0
    average = WeightAverage(model, config.weight_ema) if config.weight_ema else None
    history: list[dict[str, float]] = []
    best = (-1.0, -1)
    best_balanced = 0.0
    stale = 0

    bar = epoch_progress(progress)
    with bar:
        job = bar.add_task(f"{config.task}/{config.arch}", total=config.epochs, info="")
        for epoch in range(1, config.epochs + 1):
            started = time.time()
            model.train()
            if config.balance == "sampler":
                order = rng.choice(len(y_train), size=epoch_size, replace=True, p=draw_p)
            else:
                order = rng.permutation(len(y_train))[:epoch_size]
            losses = []
            setup_hits: list[float] = []
            kind_hits: list[float] = []
            for step in range(steps_per_epoch):
                idx = order[step * config.batch_size : (step + 1) * config.batch_size]
                if len(idx) < 2:
                    continue
                xb = draw_batch(idx, rng)
                if spec.kind != "yamnet" and config.spec_augment:
                    xb = spec_augment(xb, rng)
                # Teacher scores, sound kinds and setup targets ride along with the labels
                # through mixup, by name.
                parts = {
                    "label": nn.functional.one_hot(torch.from_numpy(y_train[idx]), len(labels))
                }
                if distilling:
                    parts |= {"teacher": teacher[idx], "teacher_mask": teacher_mask[idx, None]}
                if kind_head is not None:
                    parts["kind"] = kind_target[idx]
                if adversary is not None:
                    parts |= {"setup": setup_target[idx], "setup_allowed": setup_allowed[idx]}
                yb = torch.cat([torch.as_tensor(part).float() for part in parts.values()], dim=1)
                if config.mixup_alpha > 0:
                    xb, yb, _ = mixup(xb, yb, rng, alpha=config.mixup_alpha)
                sizes = [part.shape[1] for part in parts.values()]
                mixed = dict(zip(parts, yb.split(sizes, dim=1), strict=True))
                yb = mixed["label"]
                output = model(xb)
                log_p = torch.log_softmax(output.logits, -1)
                per_class = -(yb * log_p)
                if weight is not None:
                    per_class = per_class * weight
                loss = per_class.sum(-1).mean()
                if distilling and output.teacher_logits is not None:
                    tb, tmask = mixed["teacher"], mixed["teacher_mask"]
                    bce = nn.functional.binary_cross_entropy_with_logits(
                        output.teacher_logits, tb, reduction="none"
                    ).mean(-1)
                    loss = loss + config.distill_weight * (tmask.squeeze(1) * bce).mean()
                if kind_head is not None and output.embedding is not None:
                    kind, hits = kind_loss(kind_head(output.embedding), mixed["kind"])
                    loss = loss + config.sound_kind_weight * kind
                    if not math.isnan(hits):
                        kind_hits.append(hits)
                if adversary is not None and output.embedding is not None:
                    scale = reversal_scale((epoch - 1 + step / steps_per_epoch) / config.epochs)
                    setup_loss, hits = adversary_loss(
                        adversary(output.embedding, scale), mixed["setup"], mixed["setup_allowed"]
                    )
                    loss = loss + config.setup_adversary * setup_loss
                    if not math.isnan(hits):
                        setup_hits.append(hits)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimiser.step()
                scheduler.step()
                if average is not None:
                    average.update(model)
                losses.append(loss.item())

            judged = model if average is None else average.model  # validated; saved if best
            if average is not None and not config.bn_recalibrate:
                average.copy_buffers(model)
            recalibrate_batchnorm(judged, calibration)
            probs = clip_probabilities(judged, x_val, spec)  # it normalises the raw features
            val = scores(y_val.tolist(), probs.argmax(1).tolist(), len(labels))
            record = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "val_accuracy": val["accuracy"],
                "val_macro_f1": val["macro_f1"],
                "val_balanced_accuracy": val["balanced_accuracy"],
                "seconds": time.time() - started,
            }
            if setup_hits:  # how well the adversary still names the setup (lower: more invariant)
                record["train_setup_accuracy"] = float(np.mean(setup_hits))
            if kind_hits:  # how well the sound-kind head names the kinds (mixup blends included)
                record["train_sound_kind_accuracy"] = float(np.mean(kind_hits))
            for dataset, (x_watch, y_watch) in watched.items():
                own = clip_probabilities(judged, x_watch, spec).argmax(1) == y_watch
                record[f"left_out_{dataset}"] = float(own.mean())
            history.append(record)
            (run_dir / "history.json").write_text(json.dumps(history, indent=2))
            if on_epoch:
                on_epoch(record)
            improved = val["macro_f1"] > best[0]
            if improved:
                best = (val["macro_f1"], epoch)
                best_balanced = val["balanced_accuracy"]
                stale = 0
                state = {k: v.detach().contiguous() for k, v in judged.state_dict().items()}
                save_file(state, str(run_dir / "model.safetensors"))
            else:
                stale += 1
            checkpoint: dict[str, Any] = {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
            }
            if adversary is not None:  # its optimiser state is in there too
                checkpoint["setup_adversary"] = adversary.state_dict()
            if kind_head is not None:
                checkpoint["sound_kind_head"] = kind_head.state_dict()
            if average is not None:
                checkpoint["weight_average"] = average.model.state_dict()
            torch.save(checkpoint, run_dir / "checkpoint.pt")
            bar.update(
                job,
                advance=1,
                info=f"loss {record['train_loss']:.3f} val F1 {val['macro_f1']:.3f} "
                f"(best {best[0]:.3f} @ {best[1]})"
                + "".join(f" {d} {record[f'left_out_{d}']:.2f}" for d in watched),
            )
            if stale >= config.patience:
                break
    return TrainResult(run_dir, best[1], best[0], best_balanced, history)
