"""Models: the AST labeller and its baselines, built from a ``config.json`` dict.

Frame-based models (AST, MFCC-CNN) see fixed-length windows; :func:`frame_windows` cuts a clip of
any length into windows ``hop`` apart (padding a short one, aligning the last one to the end), and
a clip's prediction is the mean of its windows' probabilities.
"""

from __future__ import annotations

import torch
from torch import nn

from ml.models.ast import ASTClassifier, ASTSize, ClassifierOutput
from ml.models.baselines import MajorityClass, MfccCNN, YamnetDNN

__all__ = [
    "FILLS",
    "ASTClassifier",
    "ASTSize",
    "ClassifierOutput",
    "MajorityClass",
    "MfccCNN",
    "YamnetDNN",
    "build_model",
    "frame_windows",
]

_ARCHES: dict[str, type[ASTClassifier] | type[MfccCNN] | type[YamnetDNN]] = {
    "ast": ASTClassifier,
    "mfcc_cnn": MfccCNN,
    "yamnet_dnn": YamnetDNN,
}


def build_model(config: dict[str, object]) -> nn.Module:
    """The untrained model a ``config_dict()`` describes (``arch``: ast, mfcc_cnn, yamnet_dnn)."""
    arch = config.get("arch")
    if arch not in _ARCHES:
        raise ValueError(f"unknown model arch {arch!r}; known: {', '.join(_ARCHES)}")
    return _ARCHES[str(arch)].from_config_dict(config)


FILLS = ("pad", "tile")


def frame_windows(
    features: torch.Tensor,
    frames: int,
    hop: int | None = None,
    pad_value: float = 0.0,
    fill: str = "pad",
) -> torch.Tensor:
    """Cut ``[time, bins]`` into ``[n, frames, bins]`` windows, ``hop`` apart (default frames/2).

    A clip shorter than one window is padded at the end with ``pad_value`` (``fill="pad"``) or
    repeated until the window is full (``fill="tile"``: a window then holds nothing but the
    sound, so how long the clip was cannot show through as padding). The last window is
    aligned to the clip's end so no tail is lost.
    """
    if features.ndim != 2:
        raise ValueError(f"expected [time, bins], got {list(features.shape)}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
    hop = hop or max(1, frames // 2)
    total, bins = features.shape
    if total == 0:
        raise ValueError("no frames to window")
    if total < frames and fill == "tile":
        reps = -(-frames // total)
        return features.repeat(reps, 1)[:frames].unsqueeze(0)
    if total <= frames:
        out = features.new_full((1, frames, bins), pad_value)
        out[0, :total] = features
        return out
    starts = list(range(0, total - frames + 1, hop))
    if starts[-1] != total - frames:
        starts.append(total - frames)
    return torch.stack([features[s : s + frames] for s in starts])
