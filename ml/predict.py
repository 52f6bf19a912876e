"""Clip-level probabilities from a trained model and whole-clip features.

Shared by validation during training, evaluation and the shipped labeller, so all three turn a
clip into a prediction the same way: frame models (AST, MFCC-CNN) average the softmax over
the clip's windows (``hop_frames`` apart, the last aligned to the end); the YAMNet DNN takes its one pooled vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ml.frontend import LOGMEL_PAD
from ml.models import frame_windows


@dataclass(frozen=True)
class InputSpec:
    """How whole-clip features become model input: window length/hop and normalisation."""

    kind: str
    window_frames: int = 0
    hop_frames: int = 0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    @property
    def pad_value(self) -> float:
        # log-mel pads like ASTFeatureExtractor; normalised MFCC pads with the training mean (0).
        return LOGMEL_PAD if self.kind == "logmel" else 0.0

    def normalise(self, features: np.ndarray) -> np.ndarray:
        if not self.mean:
            return features
        return (features - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "window_frames": self.window_frames,
            "hop_frames": self.hop_frames,
            "mean": self.mean,
            "std": self.std,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> InputSpec:
        return cls(
            kind=str(data["kind"]),
            window_frames=int(data.get("window_frames", 0)),  # type: ignore[arg-type]
            hop_frames=int(data.get("hop_frames", 0)),  # type: ignore[arg-type]
            mean=list(data.get("mean") or []),  # type: ignore[call-overload]
            std=list(data.get("std") or []),  # type: ignore[call-overload]
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
        windows, owner = [], []
        for i, clip in enumerate(clips):
            w = frame_windows(
                torch.from_numpy(spec.normalise(clip).astype(np.float32)),
                spec.window_frames,
                spec.hop_frames,
                pad_value=spec.pad_value,
            )
            windows.append(w)
            owner.extend([i] * len(w))
        stacked = torch.cat(windows)
        probs = torch.cat(
            [
                torch.softmax(model(stacked[i : i + batch_size]).logits, -1)
                for i in range(0, len(stacked), batch_size)
            ]
        )
        index = torch.tensor(owner)
        total = torch.zeros(len(clips), probs.shape[1]).index_add_(0, index, probs)
        counts = torch.bincount(index, minlength=len(clips)).clamp(min=1).unsqueeze(1)
        return (total / counts).numpy()
    finally:
        model.train(was_training)
