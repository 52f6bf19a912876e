"""Clip-level probabilities from a trained model and whole-clip features.

Shared by validation during training, evaluation and the shipped labeller, so all three turn a
clip into a prediction the same way: frame models (AST, MFCC-CNN) average the softmax over
the clip's windows (``hop_frames`` apart, the last aligned to the end; one clip per forward
pass, so a clip's answer does not depend on its batch); the YAMNet DNN takes its one pooled
vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ml.frontend import LOGMEL_PAD
from ml.models import FILLS, frame_windows


@dataclass(frozen=True)
class InputSpec:
    """How whole-clip features become model input: window length/hop and normalisation."""

    kind: str
    window_frames: int = 0
    hop_frames: int = 0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    fill: str = "pad"  # a clip shorter than a window: "pad" it, or "tile" (repeat) it
    # Subtract each clip's own mean per coefficient first (cepstral mean normalisation): what a
    # recording's channel and a voice's timbre add to every frame goes, its changes stay.
    clip_mean: bool = False

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {self.fill!r}")

    @property
    def pad_value(self) -> float:
        # log-mel pads like ASTFeatureExtractor; normalised MFCC pads with the training mean (0).
        return LOGMEL_PAD if self.kind == "logmel" else 0.0

    def normalise(self, features: np.ndarray) -> np.ndarray:
        if self.clip_mean and len(features):
            features = features - features.mean(axis=0, keepdims=True)
        if not self.mean:
            return features
        return (features - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> InputSpec:
        return cls(
            kind=str(data["kind"]),
            window_frames=int(data.get("window_frames", 0)),  # type: ignore[arg-type]
            hop_frames=int(data.get("hop_frames", 0)),  # type: ignore[arg-type]
            mean=list(data.get("mean") or []),  # type: ignore[call-overload]
            std=list(data.get("std") or []),  # type: ignore[call-overload]
            fill=str(data.get("fill", "pad")),  # configs written before "fill" padded
            clip_mean=bool(data.get("clip_mean", False)),
        )


def clip_windows(clip: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """A clip's raw features, normalised and cut into the model's windows ``[n, frames, bins]``."""
    return frame_windows(
        torch.from_numpy(spec.normalise(clip).astype(np.float32)),
        spec.window_frames,
        spec.hop_frames,
        pad_value=spec.pad_value,
        fill=spec.fill,
    )


@torch.inference_mode()
def clip_probabilities(
    model: nn.Module, clips: Sequence[np.ndarray], spec: InputSpec, batch_size: int = 64
) -> np.ndarray:
    """``[n_clips, n_classes]`` probabilities; frame models average over each clip's windows."""
    was_training = model.training
    model.eval()
    try:
        if spec.kind == "yamnet":
            x = torch.from_numpy(np.stack([spec.normalise(c) for c in clips]).astype(np.float32))
            probs = [
                torch.softmax(model(x[i : i + batch_size]).logits, -1)
                for i in range(0, len(x), batch_size)
            ]
            return torch.cat(probs).numpy()
        # One clip's windows go through the model together and apart from other clips', so a
        # clip's probabilities do not depend on what it was batched with (batch size changes
        # the floating-point path of the convolutions).
        rows = []
        for clip in clips:
            w = clip_windows(clip, spec)
            probs = torch.cat(
                [
                    torch.softmax(model(w[i : i + batch_size]).logits, -1)
                    for i in range(0, len(w), batch_size)
                ]
            )
            rows.append(probs.mean(0))
        if not rows:
            return np.zeros((0, len(getattr(model, "labels", []))), dtype=np.float32)
        return torch.stack(rows).numpy()
    finally:
        model.train(was_training)
