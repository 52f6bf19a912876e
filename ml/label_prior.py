"""Post-hoc label prior: put back the class mix that class-balanced training took out.

Models here train on class-balanced draws, so they learn as if every label were equally common.
Where the labels are not (``source``: two thirds of the clips are cats), that costs accuracy:
the model sends cats to the rare classes. Multiplying a clip's probabilities by the training
prior raised to a strength τ and renormalising (post-hoc logit adjustment, Menon et al. 2021,
"Long-tail learning via logit adjustment") moves the decision back; τ = 0 is the model as
trained, τ = 1 the full training prior. τ is chosen on the validation split, never on test.

The adjustment is a tensor in the weights file (:data:`LOG_WEIGHT_KEY`, τ · log prior), so the
model id, the sha256 of that file, names it with the weights it adjusts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

LOG_WEIGHT_KEY = "label_prior.log_weight"
"""The weights-file tensor ``[n_labels]``: τ · log(training share of each label)."""

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The τ tried: a coarse grid, so that a validation split of a few hundred clips can choose."""

METRICS = ("macro_f1", "accuracy", "balanced_accuracy")


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


def scores(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


@dataclass(frozen=True)
class StrengthChoice:
    """The τ chosen on validation, and every τ's validation scores (what the choice saw)."""

    strength: float
    metric: str
    min_gain: float
    table: list[dict[str, float]]


def choose_strength(
    y_true: Sequence[int],
    probs: np.ndarray,
    train_counts: Mapping[str, int],
    labels: Sequence[str],
    metric: str = "macro_f1",
    min_gain: float = 0.01,
    strengths: Sequence[float] = STRENGTHS,
) -> StrengthChoice:
    """The smallest τ of ``strengths``, unless a larger one beats the choice so far on the
    validation ``metric`` by more than ``min_gain`` (default: about a recipe's seed spread, so
    a few clips' luck on a small validation split does not move every label)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    if min_gain < 0:
        raise ValueError(f"min_gain must be >= 0, got {min_gain:g}")
    table = []
    for strength in sorted(strengths):
        adjusted = reweighted(probs, log_weight(train_counts, labels, strength))
        table.append({"strength": float(strength), **scores(y_true, adjusted.argmax(1))})
    chosen = table[0]
    for row in table[1:]:
        if row[metric] - chosen[metric] > min_gain:
            chosen = row
    return StrengthChoice(chosen["strength"], metric, min_gain, table)
