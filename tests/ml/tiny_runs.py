"""The smallest real source training run the slow ML tests share: a few clips, two short epochs."""

from __future__ import annotations

from typing import Any

from ml.train import TrainConfig


def tiny_source_config(**overrides: Any) -> TrainConfig:
    """Two epochs of 64 draws over 12 clips a label, 1 s windows, an 8-channel CNN."""
    settings: dict[str, Any] = {
        "task": "source",
        "arch": "mfcc_cnn",
        "epochs": 2,
        "epoch_size": 64,
        "batch_size": 16,
        "max_clips_per_class": 12,
        "window_frames": 100,
        "cnn_channels": [8, 8, 8],
        "threads": 1,
    }
    return TrainConfig(**{**settings, **overrides})
