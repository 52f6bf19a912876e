"""Self-supervised pretraining of the AST: masked-patch reconstruction on unlabelled audio.

No pretrained AST weights can be had here, and a transformer trained from scratch on a few
thousand labelled clips loses to a small CNN. This gives the AST what pretraining gives it
elsewhere, on the audio the project has: half of each window's 16 x 16 log-mel patches are
blanked in the input (set to 0, the normalised mean), and a linear head on each patch's output
token must rebuild the blanked values (mean squared error on the blanked patches only; the
generative half of SSAST). The labels are never read. Short clips fill a window as the task's
fine-tune fills them (padded, or tiled for ``source``), so the encoder learns the inputs it will
be fine-tuned and used on.

Held out honestly: pretraining for a task leaves out every clip whose group is in that task's
validation or test part (its split is made exactly as ``miao train`` makes it), so a later
fine-tune on the task has not seen its own evaluation audio, not even unlabelled. The encoder
records which task and split seed it was made for, and ``miao train --init-from`` refuses it
for any other.

A run folder holds ``encoder.safetensors`` (the ``ASTModel`` backbone, rewritten after every
epoch) and ``pretrain.json`` (settings, clips, the encoder's id, and the held-out loss per epoch
beside two guesses that learnt nothing: answering 0, and each window's visible-patch mean).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ml.data import Clip, build_task_dataset
from ml.feature_cache import cached_features
from ml.frontend import FrontEnd
from ml.models import FILLS, ASTClassifier, ASTSize
from ml.models.ast import NUM_MEL_BINS
from ml.predict import InputSpec
from ml.registry import sha256_file
from ml.tasks import TASKS, get_task
from ml.train import (
    BAND_LIMIT_HZ,
    LENGTH_GUARD,
    epoch_progress,
    make_split,
    random_window,
    seed_everything,
    training_window,
    warmup_cosine,
)

ENCODER_FILE = "encoder.safetensors"
INFO_FILE = "pretrain.json"


_FILLED = {"pad": "padded", "tile": "tiled"}


class PretrainMismatch(ValueError):
    """An encoder that does not fit the run that wants it (other task, split seed or size)."""


@dataclass
class PretrainConfig:
    """Everything a pretraining run depends on (saved in its ``pretrain.json``)."""

    task: str
    """The task this encoder is made for: its validation and test groups are left out."""
    epochs: int = 30
    epoch_size: int = 2048
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    mask_ratio: float = 0.5
    monitor_share: float = 0.05
    """Share of the pretraining clips kept out to report the reconstruction loss on."""
    seed: int = 0
    split_seed: int = 0
    split_strata: str = "label"
    """What the task's split balances (``ml.data.STRATA``); the fine-tune's must match."""
    threads: int = 2
    window_frames: int = 200
    """Frames per window: must be the fine-tune's (``miao train --window``, 200 there)."""
    ast_size: dict[str, int | float] = field(default_factory=lambda: asdict(ASTSize()))
    max_clips: int | None = None
    """At most this many pretraining clips (drawn reproducibly), for quick runs and tests."""
    fill: str | None = None
    """Clips shorter than a window: "pad" or "tile"; None: as the task's fine-tune fills them
    (``source`` tiles), so the encoder learns the windows it will be fine-tuned on."""

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.fill is None:
            self.fill = str(LENGTH_GUARD.get(self.task, {}).get("fill", "pad"))
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {self.fill!r}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if not 0.0 < self.monitor_share < 0.5:
            raise ValueError(f"monitor_share must be in (0, 0.5), got {self.monitor_share}")
        if self.epochs < 1 or self.epoch_size < self.batch_size or self.batch_size < 2:
            raise ValueError("need epochs >= 1, batch_size >= 2 and epoch_size >= batch_size")

    @property
    def size(self) -> ASTSize:
        return ASTSize.for_window(self.ast_size, self.window_frames)

    @property
    def front_end(self) -> FrontEnd:
        return FrontEnd("logmel", band_limit_hz=BAND_LIMIT_HZ.get(self.task))


def pretraining_clips(
    task: str, split_seed: int = 0, shared_dir: Path | None = None, strata: str = "label"
) -> list[Clip]:
    """Every clip any task reads, once, minus the groups of ``task``'s validation and test parts."""
    split = make_split(task, split_seed, shared_dir, strata)
    held_out = {c.group for c in (*split.val, *split.test)}
    seen: set[Path] = set()
    clips: list[Clip] = []
    for name in TASKS:
        for clip in build_task_dataset(name, shared_dir):
            if clip.path in seen or clip.group in held_out:
                continue
            seen.add(clip.path)
            clips.append(clip)
    return clips


class MaskedPatchModel(nn.Module):
    """The AST backbone plus a linear head that rebuilds each patch from its output token."""

    def __init__(self, size: ASTSize) -> None:
        super().__init__()
        self.size = size
        # The classifier's own construction (token initialisation included), labels unused.
        self.backbone = ASTClassifier(["_"], size).ast.audio_spectrogram_transformer
        self.head = nn.Linear(size.hidden, size.patch * size.patch)

    @property
    def grid(self) -> tuple[int, int]:
        """Patches along (frequency, time)."""
        s = self.size
        return (NUM_MEL_BINS - s.patch) // s.stride + 1, (s.max_length - s.patch) // s.stride + 1

    def patchify(self, windows: torch.Tensor) -> torch.Tensor:
        """``[B, frames, 128]`` -> ``[B, patches, patch*patch]``, in the AST's token order
        (frequency-major, as its patch convolution's output is flattened)."""
        p = self.size.patch
        n_freq, n_time = self.grid
        x = windows.transpose(1, 2)[:, : n_freq * p, : n_time * p]  # [B, 128, frames]
        x = x.reshape(len(x), n_freq, p, n_time, p).permute(0, 1, 3, 2, 4)
        return x.reshape(len(x), n_freq * n_time, p * p)

    def blank(self, windows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The windows with the patches where ``mask`` ([B, patches], bool) is set to 0."""
        p = self.size.patch
        n_freq, n_time = self.grid
        grid = mask.reshape(len(mask), n_freq, n_time)
        pixels = grid.repeat_interleave(p, 1).repeat_interleave(p, 2)  # [B, freq, time]
        full = torch.zeros(windows.shape[0], windows.shape[2], windows.shape[1], dtype=torch.bool)
        full[:, : n_freq * p, : n_time * p] = pixels
        return windows.masked_fill(full.transpose(1, 2), 0.0)

    def forward(self, windows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the rebuilt blanked patches."""
        hidden = self.backbone(self.blank(windows, mask)).last_hidden_state[:, 2:]  # cls, dist
        rebuilt = self.head(hidden)
        target = self.patchify(windows)
        return ((rebuilt - target) ** 2).mean(-1)[mask].mean()


def random_masks(batch: int, patches: int, ratio: float, rng: np.random.Generator) -> torch.Tensor:
    """``[batch, patches]`` bool, exactly ``round(ratio * patches)`` set per row."""
    k = max(1, round(ratio * patches))
    order = np.argsort(rng.random((batch, patches)), axis=1)
    mask = np.zeros((batch, patches), dtype=bool)
    np.put_along_axis(mask, order[:, :k], True, axis=1)
    return torch.from_numpy(mask)


def masked_batch(
    features: list[np.ndarray],
    config: PretrainConfig,
    spec: InputSpec,
    patches: int,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random windows of random clips, with the patches to blank in each."""
    idx = rng.integers(0, len(features), config.batch_size)
    frames, pad = spec.window_frames, spec.pad_value
    if config.fill == "tile":
        windows = [
            training_window(features[i], frames, pad, rng, kind="logmel", fill="tile") for i in idx
        ]
    else:
        windows = [random_window(features[i], frames, pad, rng) for i in idx]
    mask = random_masks(len(idx), patches, config.mask_ratio, rng)
    return torch.from_numpy(np.stack(windows)), mask


def visible_mean_loss(model: MaskedPatchModel, windows: torch.Tensor, mask: torch.Tensor) -> float:
    """The loss of rebuilding every blanked patch as the mean of its window's visible patches."""
    patches = model.patchify(windows)
    visible = (~mask).unsqueeze(-1).float()
    mean = (patches * visible).sum((1, 2)) / (visible.sum((1, 2)) * patches.shape[-1])
    return float(((patches - mean[:, None, None]) ** 2).mean(-1)[mask].mean())


@dataclass
class PretrainResult:
    run_dir: Path
    encoder_id: str
    history: list[dict[str, float]]
    mean_predictor_loss: float
    visible_mean_loss: float


def pretrain(
    config: PretrainConfig,
    run_dir: Path,
    *,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
    progress: bool = True,
) -> PretrainResult:
    """Pretrain an AST encoder for ``config.task``; the encoder of the last epoch is kept."""
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    clips = pretraining_clips(config.task, config.split_seed, shared_dir, config.split_strata)
    rng = np.random.default_rng(config.seed)
    if config.max_clips is not None and len(clips) > config.max_clips:
        keep = np.sort(rng.choice(len(clips), config.max_clips, replace=False))
        clips = [clips[int(i)] for i in keep]
    # The monitor part is split by group too, so its loss is on audio the encoder never saw.
    groups = sorted({c.group for c in clips})
    monitor_groups = set(
        rng.choice(groups, max(1, round(config.monitor_share * len(groups))), replace=False)
    )
    train_clips = [c for c in clips if c.group not in monitor_groups]
    monitor_clips = [c for c in clips if c.group in monitor_groups]
    front_end = config.front_end
    spec = InputSpec("logmel", config.window_frames, config.window_frames)
    x_train = cached_features([c.path for c in train_clips], front_end, cache_dir)
    x_monitor = cached_features([c.path for c in monitor_clips], front_end, cache_dir)

    model = MaskedPatchModel(config.size)
    patches = model.grid[0] * model.grid[1]
    # Fixed monitor batches: the same windows and masks every epoch.
    monitor_rng = np.random.default_rng([config.seed, 2])
    monitor = [masked_batch(x_monitor, config, spec, patches, monitor_rng) for _ in range(4)]
    # What "learnt nothing" scores: always answering 0 (the normalised mean), and answering
    # each window's mean over its visible patches (which padding alone makes easy to beat 0 by).
    mean_loss = float(
        np.mean([(model.patchify(w) ** 2).mean(-1)[m].mean().item() for w, m in monitor])
    )
    visible_loss = float(np.mean([visible_mean_loss(model, w, m) for w, m in monitor]))
    info: dict[str, object] = {
        "config": asdict(config),
        "front_end": front_end.to_dict(),
        "clips": len(train_clips),
        "monitor_clips": len(monitor_clips),
        "datasets": dict(sorted(Counter(c.dataset for c in train_clips).items())),
        "mean_predictor_loss": mean_loss,
        "visible_mean_loss": visible_loss,
    }

    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(config.epoch_size / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = steps_per_epoch * config.warmup_epochs

    scheduler = warmup_cosine(optimiser, total, warmup)
    history: list[dict[str, float]] = []
    bar = epoch_progress(progress)
    with bar:
        job = bar.add_task(f"pretrain AST for {config.task}", total=config.epochs, info="")
        for epoch in range(1, config.epochs + 1):
            started = time.time()
            model.train()
            losses = []
            for _ in range(steps_per_epoch):
                loss = model(*masked_batch(x_train, config, spec, patches, rng))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimiser.step()
                scheduler.step()
                losses.append(loss.item())
            model.eval()
            with torch.no_grad():
                held = float(np.mean([model(w, m).item() for w, m in monitor]))
            record = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "monitor_loss": held,
                "seconds": time.time() - started,
            }
            history.append(record)
            state = {k: v.detach().contiguous() for k, v in model.backbone.state_dict().items()}
            save_file(state, str(run_dir / ENCODER_FILE))
            info["history"] = history
            info["encoder_id"] = sha256_file(run_dir / ENCODER_FILE)
            (run_dir / INFO_FILE).write_text(json.dumps(info, indent=2))
            bar.update(
                job, advance=1, info=f"loss {record['train_loss']:.3f} held-out {held:.3f} "
                f"(visible-patch mean: {visible_loss:.3f})",
            )  # fmt: skip
    return PretrainResult(run_dir, str(info["encoder_id"]), history, mean_loss, visible_loss)


def check_encoder(
    folder: Path,
    task: str,
    size: ASTSize,
    split_seed: int = 0,
    fill: str = "pad",
    split_strata: str = "label",
) -> dict[str, object]:
    """What a pretraining run holds, if it fits an AST of ``size`` for ``task``'s split.

    Refused (``PretrainMismatch``) when it was made for another task, another split seed or a
    split balanced otherwise (``split_strata``; it may have heard that split's validation and
    test audio), for another AST size, or on windows
    filled otherwise than the fine-tune's (``fill``: padded vs tiled short clips).
    """
    info_path, weights = folder / INFO_FILE, folder / ENCODER_FILE
    if not info_path.is_file() or not weights.is_file():
        raise PretrainMismatch(f"{folder} is not a pretraining run ({INFO_FILE}, {ENCODER_FILE})")
    info = json.loads(info_path.read_text())
    made_for = info["config"]["task"]
    if made_for != task:
        raise PretrainMismatch(
            f"the encoder in {folder} was pretrained for {made_for!r}, so it may have heard "
            f"{task!r}'s validation and test audio; pretrain one for {task!r}"
        )
    made_seed = int(info["config"].get("split_seed", 0))
    if made_seed != split_seed:
        raise PretrainMismatch(
            f"the encoder in {folder} left out the validation and test groups of split seed "
            f"{made_seed}, not {split_seed}: it may have heard this split's evaluation audio"
        )
    made_strata = str(info["config"].get("split_strata") or "label")  # runs before: by label
    if made_strata != split_strata:
        raise PretrainMismatch(
            f"the encoder in {folder} left out the validation and test groups of a split "
            f"balanced by {made_strata}, not {split_strata}: it may have heard this split's "
            "evaluation audio"
        )
    made = PretrainConfig(**{"fill": "pad", **info["config"]})  # runs before "fill" padded
    if made.size != size:
        raise PretrainMismatch(
            f"the encoder's AST size {asdict(made.size)} differs from the model's {asdict(size)}"
        )
    if made.fill != fill:
        raise PretrainMismatch(
            f"the encoder in {folder} saw short clips {_FILLED[made.fill]}, the fine-tune has them "
            f"{_FILLED[fill]}: pretrain again (its fill follows the task's)"
        )
    history = info.get("history") or [{}]
    return {
        "clips": info["clips"],
        "epochs": len(info.get("history", [])),
        "mask_ratio": info["config"]["mask_ratio"],
        "fill": made.fill,
        "monitor_loss": history[-1].get("monitor_loss"),
        "mean_predictor_loss": info["mean_predictor_loss"],
        "visible_mean_loss": info["visible_mean_loss"],
    }


def load_encoder(
    model: ASTClassifier,
    folder: Path,
    task: str,
    split_seed: int = 0,
    fill: str = "pad",
    split_strata: str = "label",
) -> dict[str, object]:
    """Put a pretrained encoder into ``model``'s backbone; what was loaded (for ``config.json``)."""
    info = check_encoder(folder, task, model.size, split_seed, fill, split_strata)
    model.ast.audio_spectrogram_transformer.load_state_dict(load_file(str(folder / ENCODER_FILE)))
    return {"encoder_id": sha256_file(folder / ENCODER_FILE), **info}
