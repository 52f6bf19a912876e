"""Post-hoc label prior: put back the class mix that class-balanced training took out.

Models here train on class-balanced draws, so they learn as if every label were equally common.
Where the labels are not (``source``: two thirds of the clips are cats), that costs accuracy:
the model sends cats to the rare classes. Multiplying a clip's probabilities by the training
prior raised to a strength τ and renormalising (post-hoc logit adjustment, Menon et al. 2021,
"Long-tail learning via logit adjustment") moves the decision back; τ = 0 is the model as
trained, τ = 1 the full training prior. τ is chosen on the validation split, never on test
(:mod:`ml.calibrate`).

The adjustment is a tensor in the weights file (:data:`LOG_WEIGHT_KEY`, τ · log prior), so the
model id, the sha256 of that file, names it with the weights it adjusts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

LOG_WEIGHT_KEY = "label_prior.log_weight"
"""The weights-file tensor ``[n_labels]``: τ · log(training share of each label)."""


def log_weight(
    train_counts: Mapping[str, int], labels: Sequence[str], strength: float
) -> np.ndarray:
    """τ · log(share) per label, in the model's label order; every label needs training clips."""
    counts = np.array([train_counts.get(label, 0) for label in labels], dtype=np.float64)
    if (counts <= 0).any():
        missing = [label for label, n in zip(labels, counts, strict=True) if n <= 0]
        raise ValueError(f"no training clips of {missing}: their prior is undefined")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength:g}")
    return (strength * np.log(counts / counts.sum())).astype(np.float32)


def reweighted(probs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``[n_clips, n_labels]`` probabilities times ``exp(weight)``, each row summing to 1 again."""
    scaled = probs * np.exp(weight - weight.max())[None, :]
    return scaled / scaled.sum(axis=1, keepdims=True)
