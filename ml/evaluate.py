"""Evaluation on the group-held-out test split: the JSON report and the confusion-matrix PNG.

Every number is reported with macro-F1 and balanced accuracy beside accuracy, and the majority
class (fitted on the training split) beside every model, because on imbalanced sets such as
Donate-a-Cry accuracy alone flatters a model that always says "hungry".
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from ml.data import Clip, Split
from ml.feature_cache import cached_features
from ml.models import MajorityClass

T = TypeVar("T")


def metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    sample_weight: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, balanced accuracy, per-class P/R/F1/support and the confusion matrix.

    ``sample_weight`` weighs the scores (e.g. :func:`ml.crossval.group_weights`: every group
    counts once); ``n``, the supports and the confusion matrix stay counts of clips.
    """
    labels = list(labels)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0, sample_weight=w
    )
    support = Counter(y_true)
    present = sorted(set(y_true), key=labels.index)
    return {
        "n": len(y_true),
        "accuracy": float(np.average(np.asarray(y_true) == np.asarray(y_pred), weights=w)),
        "macro_f1": float(
            f1_score(
                y_true, y_pred, labels=labels, average="macro", zero_division=0, sample_weight=w
            )
        ),
        "macro_f1_present_classes": float(
            f1_score(
                y_true, y_pred, labels=present, average="macro", zero_division=0, sample_weight=w
            )
        ),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred, sample_weight=w)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[label]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": labels,
    }


def majority_metrics(
    train_labels: Sequence[str], y_true: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """The majority-class baseline (fitted on training labels) scored on ``y_true``."""
    baseline = MajorityClass(labels).fit(train_labels)
    out = metrics(y_true, baseline.predict(len(y_true)), labels)
    out["predicts"] = baseline.label
    return out


def run_predictions(
    run_dir: Path,
    clips: Sequence[Clip],
    cache_dir: Path = Path("var/cache"),
    weights: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Labels and probabilities of a run's best model (or ``weights``; or an ensemble's mean),
    with its label prior if it has one: what its labeller would say."""
    from ml.registry import WEIGHTS_FILE, load_members

    loaded = load_members(run_dir, weights or WEIGHTS_FILE)
    probs = loaded.probabilities(member_features(loaded.members, clips, cache_dir))
    labels = loaded.config["labels"]
    return [labels[i] for i in probs.argmax(1)], probs


def member_features(
    members: Sequence[Any], clips: Sequence[Clip], cache_dir: Path
) -> dict[Any, list[np.ndarray]]:
    """The clips' cached features for each front end of ``members`` (:class:`ml.registry.Member`);
    members that share a front end share its features."""
    paths = [c.path for c in clips]
    fronts = {m.front_end for m in members}
    return {front: cached_features(paths, front, cache_dir) for front in fronts}


def evaluate_runs(
    split: Split,
    runs: dict[str, Path],
    labels: Sequence[str],
    part: str = "test",
    cache_dir: Path = Path("var/cache"),
) -> dict[str, Any]:
    """One report: every run (AST and baselines) and the majority class on one split part."""
    clips = split.parts()[part]
    y_true = [c.label for c in clips]
    report: dict[str, Any] = {
        "part": part,
        "n_clips": len(clips),
        "n_groups": len({c.group for c in clips}),
        "class_counts": {label: y_true.count(label) for label in labels},
        "models": {},
    }
    report["models"]["majority"] = majority_metrics([c.label for c in split.train], y_true, labels)
    for name, run_dir in runs.items():
        y_pred, _ = run_predictions(run_dir, clips, cache_dir)
        report["models"][name] = metrics(y_true, y_pred, labels)
    return report


def evaluate_model_on(
    model_dir: Path,
    clips: Sequence[Clip],
    labels: Sequence[str],
    seen: Split | None,
    cache_dir: Path = Path("var/cache"),
) -> dict[str, Any]:
    """A model folder, labelling as it would (label prior included), scored on clips from
    outside its split: new recordings, or the running system's dataset export.

    ``seen`` is the model's own split, rebuilt: clips of its train or validation part (the same
    file or the same group) are left out and counted, since a model scored on what it learnt or
    was chosen on says nothing about new recordings. Without it nothing can be checked, and the
    report says so. The majority class is fitted on the training part when that is known, else
    it is these clips' own most common label (the best any constant answer scores on them).
    """
    left_out = 0
    if seen is not None:
        learnt = (*seen.train, *seen.val)
        paths = {c.path.resolve() for c in learnt}
        groups = {c.group for c in learnt}
        kept = [c for c in clips if c.path.resolve() not in paths and c.group not in groups]
        left_out = len(clips) - len(kept)
        clips = kept
    if not clips:
        raise ValueError(
            f"no clips left to score: all {left_out} are in the model's training or validation "
            "part (the same file or group)"
        )
    y_true = [c.label for c in clips]
    name = str(json.loads((model_dir / "config.json").read_text())["model"]["arch"])
    report: dict[str, Any] = {
        "part": "manifest",
        "n_clips": len(clips),
        "n_groups": len({c.group for c in clips}),
        "class_counts": {label: y_true.count(label) for label in labels},
        "seen_checked": seen is not None,
        "left_out_seen": left_out,
        "majority_fitted_on": "training part" if seen is not None else "these clips",
    }
    train_labels = [c.label for c in seen.train] if seen is not None else y_true
    y_pred, _ = run_predictions(model_dir, clips, cache_dir)
    present = [label for label in labels if label in y_true]
    report["macro_f1_over"] = present  # new recordings may hold only some of the labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: labels absent from y_true
        scored = {
            "majority": majority_metrics(train_labels, y_true, labels),
            name: metrics(y_true, y_pred, labels),
        }
    for result in scored.values():  # metrics() has it: macro-F1 over the labels present
        result["macro_f1"] = result["macro_f1_present_classes"]
    report["models"] = scored
    return report


def prefer_first(candidates: Sequence[T], score: Callable[[T], float], min_gain: float) -> T:
    """The first of ``candidates`` (ordered cheapest or simplest first), unless a later one beats
    the choice so far by more than ``min_gain``: a win of about a recipe's seed spread is noise,
    and should not buy a dearer labeller or a stronger adjustment."""
    if not candidates:
        raise ValueError("nothing to choose from")
    if min_gain < 0:
        raise ValueError(f"min_gain must be >= 0, got {min_gain:g}")
    chosen = candidates[0]
    for candidate in candidates[1:]:
        if score(candidate) - score(chosen) > min_gain:
            chosen = candidate
    return chosen


LABELLING_COST_ORDER = ("mfcc_cnn", "ast", "ensemble")
"""Shippable runs from cheapest to dearest to label with (measured by ``miao bench label``)."""


def choose_by_validation(val_macro_f1: dict[str, float], min_gain: float = 0.0) -> str:
    """The run to ship: the cheapest, unless a dearer one beats the choice so far on validation
    macro-F1 by more than ``min_gain`` (an AST + CNN ensemble once won by 0.008 and labelled at
    2.5 times the cost)."""
    ranked = [a for a in LABELLING_COST_ORDER if a in val_macro_f1]
    if not ranked:
        raise ValueError(f"nothing shippable among {sorted(val_macro_f1)}")
    return prefer_first(ranked, val_macro_f1.__getitem__, min_gain)


def confusion_png(result: dict[str, Any], path: Path, title: str) -> Path:
    """Draw a confusion matrix (rows: true, columns: predicted; shaded by row share) to PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = result["labels"]
    cm = np.asarray(result["confusion"], dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = 1.6 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=110)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)
    return path
