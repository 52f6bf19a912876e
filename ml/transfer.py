"""Start a task's MFCC CNN from another task's trained convolutions (transfer learning).

A task with few groups (cat-context: 13 cats to train and validate on) learns its convolutions
from a handful of voices. A model trained on many more cats (cat-emotion: naya) has filters for
cat calls already; its ``features.*`` tensors are copied in and only the head starts fresh. The
new task keeps its own MFCC standardisation (its audio may be band-limited where the donor's was
not), and BatchNorm recalibration adapts the statistics to it.

Honesty is the caller's part: the donor must not have heard the new task's validation or test
audio (cat-emotion never heard catmeows; ``source`` did, so it is no donor for cat-context).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open
from torch import nn

from ml.models.baselines import MfccCNN
from ml.registry import WEIGHTS_FILE, sha256_file

FEATURES_PREFIX = "features."


class TransferError(ValueError):
    """The donor model cannot give its convolutions to this CNN."""


def check_donor(folder: Path, channels: list[int]) -> dict[str, Any]:
    """The donor's ``config.json``, if it is a trained CNN of these widths (else an error)."""
    config_path, weights_path = folder / "config.json", folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise TransferError(f"{folder}: no config.json and {WEIGHTS_FILE} of a trained model")
    config = json.loads(config_path.read_text())
    donor = config.get("model", {})
    if donor.get("arch") != "mfcc_cnn":
        raise TransferError(f"{folder}: a {donor.get('arch')!r} model, not an mfcc_cnn")
    if list(donor.get("channels", [])) != list(channels):
        raise TransferError(
            f"{folder}: channels {donor.get('channels')} differ from this CNN's {list(channels)}"
        )
    return config


def load_cnn_features(model: MfccCNN, folder: Path) -> dict[str, Any]:
    """Copy the donor's convolution blocks into ``model``; what was loaded (for ``config.json``)."""
    config = check_donor(folder, model.channels)
    weights_path = folder / WEIGHTS_FILE
    wanted = {k: v for k, v in model.state_dict().items() if k.startswith(FEATURES_PREFIX)}
    with safe_open(str(weights_path), framework="pt") as weights:
        found = {k: weights.get_tensor(k) for k in weights.keys() if k in wanted}  # noqa: SIM118
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise TransferError(f"{folder}: its weights lack {', '.join(missing[:3])}")
    for key, tensor in found.items():
        if tensor.shape != wanted[key].shape:
            raise TransferError(
                f"{folder}: {key} is {list(tensor.shape)}, not {list(wanted[key].shape)}"
            )
    model.load_state_dict(found, strict=False)
    return {
        "donor": str(folder),
        "donor_task": config.get("task"),
        "donor_model_id": sha256_file(weights_path),
        "tensors": len(found),
    }


def feature_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The convolution blocks' parameters (what ``features_lr_scale`` scales)."""
    features = getattr(model, "features", None)
    return list(features.parameters()) if isinstance(features, nn.Module) else []
