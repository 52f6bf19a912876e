"""Choose a shipped model's label prior on validation, measure it on test, write it in.

``miao label-prior TASK`` runs this: the model's own clip probabilities (without any prior it
already carries) on the validation and test parts of its split, τ chosen on validation
(:func:`choose_strength`), then the test figures with and without it. Written,
the prior becomes a tensor of the weights file, so the model id changes with it; the config,
``metrics.json`` and the model card say what was chosen and why.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ml.crossval import OutOfFold, out_of_fold, read_report
from ml.evaluate import member_features, metrics, prefer_first
from ml.label_prior import LOG_WEIGHT_KEY, log_weight, reweighted
from ml.registry import WEIGHTS_FILE, load_members, mean_probabilities, sha256_file

CARD_START, CARD_END = "<!-- label-prior -->", "<!-- /label-prior -->"


STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The τ tried: a coarse grid, so that a validation split of a few hundred clips can choose."""

METRICS = ("accuracy", "macro_f1", "balanced_accuracy")


@dataclass(frozen=True)
class StrengthChoice:
    """The τ chosen on validation, and every τ's validation scores (what the choice saw)."""

    strength: float
    metric: str
    min_gain: float
    table: list[dict[str, Any]]


def _scored(
    y_true: Sequence[str],
    probs: np.ndarray,
    labels: Sequence[str],
    weight: np.ndarray | None,
    sample_weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """:func:`ml.evaluate.metrics` of the argmax labels, reweighted by ``weight`` if given."""
    adjusted = probs if weight is None else reweighted(probs, weight)
    return metrics(y_true, [labels[i] for i in adjusted.argmax(1)], labels, sample_weight)


def check_metric(metric: str, labels: Sequence[str]) -> None:
    """``metric`` is one of :data:`METRICS` or ``f1:LABEL`` (a binary task's headline)."""
    if metric in METRICS or (metric.startswith("f1:") and metric[3:] in labels):
        return
    raise ValueError(
        f"metric must be one of {METRICS} or f1:LABEL of {list(labels)}, not {metric!r}"
    )


def _row(strength: float, scored: dict[str, Any], metric: str) -> dict[str, Any]:
    row = {"strength": float(strength), **{m: scored[m] for m in METRICS}}
    if metric.startswith("f1:"):
        row[metric] = scored["per_class"][metric[3:]]["f1"]
    return row


def choose_strength(
    y_true: Sequence[str],
    probs: np.ndarray,
    train_counts: Mapping[str, int],
    labels: Sequence[str],
    metric: str = "macro_f1",
    min_gain: float = 0.01,
    strengths: Sequence[float] = STRENGTHS,
) -> StrengthChoice:
    """The smallest τ of ``strengths``, unless a larger one beats the choice so far on the
    validation ``metric`` by more than ``min_gain`` (:func:`ml.evaluate.prefer_first`; by
    default about a recipe's seed spread, so a few clips' luck does not move every label)."""
    check_metric(metric, labels)
    table = []
    for strength in sorted(strengths):
        scored = _scored(y_true, probs, labels, log_weight(train_counts, labels, strength))
        table.append(_row(strength, scored, metric))
    chosen = prefer_first(table, lambda row: row[metric], min_gain)
    return StrengthChoice(chosen["strength"], metric, min_gain, table)


def _pooled_row(
    strength: float,
    pooled: tuple[list[str], list[np.ndarray], list[np.ndarray]],
    labels: Sequence[str],
    metric: str,
) -> dict[str, Any]:
    """One τ's scores over pooled folds: labels, reweighted probabilities and clip weights."""
    y, probs, weights = pooled
    return _row(
        strength, _scored(y, np.concatenate(probs), labels, None, np.concatenate(weights)), metric
    )


def choose_strength_cv(
    folds: Sequence[OutOfFold],
    labels: Sequence[str],
    metric: str,
    min_gain: float = 0.02,
    strengths: Sequence[float] = STRENGTHS,
    group_weighted: bool = False,
) -> StrengthChoice:
    """τ from cross-validation's out-of-fold probabilities, each fold reweighted by its own
    training shares. The smallest τ, unless a larger one beats the choice so far on the pooled
    ``metric`` by more than ``min_gain`` *and* on the pooled clips of most fold seeds (so one
    lucky fold seed cannot move it). Why: dog-bark's validation split holds 13 barks; its CV
    folds hold 78, three times over. ``group_weighted`` scores every clip at one over its
    group's clips in its fold (:func:`ml.crossval.group_weights`), so a recording cut into
    many slices counts once."""
    check_metric(metric, labels)
    seeds = sorted({f.fold_seed for f in folds})
    table = []
    for strength in sorted(strengths):
        pooled: tuple[list[str], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        per_seed = {s: ([], [], []) for s in seeds}
        for f in folds:
            adjusted = reweighted(f.probabilities, log_weight(f.train_counts, labels, strength))
            clip_weight = f.clip_weights() if group_weighted else np.ones(len(f.y_true))
            for y, p, w in (pooled, per_seed[f.fold_seed]):
                y.extend(f.y_true)
                p.append(adjusted)
                w.append(clip_weight)
        row = _pooled_row(strength, pooled, labels, metric)
        row["per_fold_seed"] = {
            str(s): _pooled_row(strength, parts, labels, metric)[metric]
            for s, parts in per_seed.items()
        }
        table.append(row)
    chosen = table[0]
    for row in table[1:]:
        gain = row[metric] - chosen[metric]
        seed_wins = sum(
            row["per_fold_seed"][s] > chosen["per_fold_seed"][s] for s in row["per_fold_seed"]
        )
        if gain > min_gain and seed_wins * 2 > len(seeds):
            chosen = row
    return StrengthChoice(chosen["strength"], metric, min_gain, table)


def fit_prior(
    folder: Path,
    task: str,
    metric: str,
    cache_dir: Path,
    shared_dir: Path | None = None,
    min_gain: float = 0.01,
    cv_dirs: Sequence[Path] = (),
    cv_variant: str = "",
    score_test: bool = True,
    group_weighted: bool = False,
) -> dict[str, Any]:
    """τ chosen on the validation part of the model's split, or from the out-of-fold
    probabilities of ``cv_variant`` in the ``cv_dirs`` (``miao cv`` folders of this task, one
    per fold seed; :func:`choose_strength_cv`); test figures before and after, unless
    ``score_test`` is off (a choice looked at before anyone reads test; nothing to write)."""
    from ml.train import model_split  # the split the model was trained on

    loaded = load_members(folder)  # its members; a label prior it carries is not applied
    config = loaded.config
    if config.get("task") != task:
        raise ValueError(f"{folder} is a model of {config.get('task')!r}, not {task!r}")
    labels = list(config["labels"])
    training = config.get("training") or config["members"][0]["training"]
    seed = int(training["split_seed"])
    split = model_split(folder, shared_dir)
    parts = split.parts()
    train_counts = dict(Counter(c.label for c in parts["train"]))

    def probabilities(part: str) -> np.ndarray:
        feats = member_features(loaded.members, parts[part], cache_dir)
        return mean_probabilities(loaded.members, feats)

    extra: dict[str, Any] = {}
    if cv_dirs:
        for cv_dir in cv_dirs:
            report = read_report(cv_dir)
            if report["task"] != task or int(report["split_seed"]) != seed:
                raise ValueError(
                    f"{cv_dir} cross-validated {report['task']!r} on split seed "
                    f"{report['split_seed']}, not {task!r} on the model's split seed {seed}"
                )
        folds = [f for d in cv_dirs for f in out_of_fold(d, cv_variant, shared_dir, cache_dir)]
        choice = choose_strength_cv(folds, labels, metric, min_gain, group_weighted=group_weighted)
        n_chosen_on = sum(len(f.y_true) for f in folds)
        seeds = sorted({f.fold_seed for f in folds})
        chosen_by = (
            f"cross-validation {metric} (out-of-fold, variant {cv_variant}, {len(folds)} folds "
            f"of fold seeds {', '.join(map(str, seeds))}"
            + (", each group counted once per fold)" if group_weighted else ")")
        )
        extra["cv"] = {
            "dirs": [str(d) for d in cv_dirs],
            "variant": cv_variant,
            "fold_seeds": seeds,
            "folds": len(folds),
            "group_weighted": group_weighted,
        }
    else:
        if group_weighted:
            raise ValueError("group_weighted is for a choice made on CV folds (cv_dirs)")
        y_val = [c.label for c in parts["val"]]
        choice = choose_strength(
            y_val, probabilities("val"), train_counts, labels, metric, min_gain
        )
        n_chosen_on, chosen_by = len(y_val), f"validation {metric}"
    weight = log_weight(train_counts, labels, choice.strength)
    if score_test:
        test_probs = probabilities("test")
        y_test = [c.label for c in parts["test"]]
        without = _scored(y_test, test_probs, labels, None)
        with_prior = _scored(y_test, test_probs, labels, weight)
        extra |= {
            "test_without": _row(0.0, without, metric),
            "test_with": _row(choice.strength, with_prior, metric),
            "test_confusion_without": without["confusion"],
            "test_confusion_with": with_prior["confusion"],
            "n_test": len(y_test),
        }
    return {
        "task": task,
        "labels": labels,
        "split_seed": seed,
        "train_counts": {label: train_counts.get(label, 0) for label in labels},
        "chosen_by": chosen_by,
        "metric": metric,
        "min_gain": min_gain,
        "strength": choice.strength,
        "log_weight": [round(float(w), 6) for w in weight],
        "validation": choice.table,
        "n_val": n_chosen_on,
        **extra,
    }


def card_section(record: dict[str, Any]) -> str:
    """The model card's paragraph and the table τ was chosen from, for a written prior."""
    metric = record.get("metric") or record["chosen_by"].split()[-1]
    positive = metric[3:] if metric.startswith("f1:") else ""
    on = "out-of-fold" if "cv" in record else "val"
    head = f"| τ | {on} accuracy | {on} macro-F1 | {on} balanced acc. |" + (
        f" {on} {positive} F1 |" if positive else ""
    )
    rule = "|---|---|---|---|" + ("---|" if positive else "")
    rows = "\n".join(
        f"| {r['strength']:g} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
        f"{r['balanced_accuracy']:.3f} |" + (f" {r[metric]:.3f} |" if positive else "")
        for r in record["validation"]
    )
    before, after = record["test_without"], record["test_with"]
    found = "; ".join(
        f"{label} {record['test_confusion_with'][i][i]} of {sum(record['test_confusion_with'][i])}"
        f" ({record['test_confusion_without'][i][i]} without)"
        for i, label in enumerate(record["labels"])
    )
    headline = f", {positive} F1 {before[metric]:.3f} → **{after[metric]:.3f}**" if positive else ""
    shares = ", ".join(f"{k} {v}" for k, v in record["train_counts"].items())
    if "cv" in record:
        cv = record["cv"]
        clips = (
            f"{record['n_val']} out-of-fold predictions; a larger τ had to win by more than "
            f"{record['min_gain']:g} and on most fold seeds"
        )
        command = (
            f"`miao label-prior {record['task']} --metric {metric} --min-gain "
            f"{record['min_gain']:g} --cv-variant {cv['variant']} "
            + " ".join(f"--cv {d}" for d in cv["dirs"])
            + (" --group-weighted" if cv.get("group_weighted") else "")
            + "`"
        )
    else:
        clips = (
            f"{record['n_val']} clips; a larger τ had to win by more than {record['min_gain']:g}"
        )
        command = (
            f"`miao label-prior {record['task']} --metric {metric}\n--min-gain "
            f"{record['min_gain']:g}`"
        )
    return f"""{CARD_START}
## Label prior (post-hoc)

Trained on class-balanced draws, the network acts as if every label were equally common. The
labeller multiplies its clip probabilities by the training share of each label ({shares}
clips) raised to the strength τ = **{record["strength"]:g}**, and renormalises (post-hoc logit
adjustment; `ml/label_prior.py`). τ was chosen by {record["chosen_by"]} from this table
({clips}), before the
test figures below were computed:

{head}
{rule}
{rows}

On the test split ({record["n_test"]} clips): accuracy {before["accuracy"]:.3f} →
**{after["accuracy"]:.3f}**, macro-F1 {before["macro_f1"]:.3f} → **{after["macro_f1"]:.3f}**,
balanced accuracy {before["balanced_accuracy"]:.3f} → **{after["balanced_accuracy"]:.3f}**{headline}.
Clips given their own label: {found}. The
tables below score the network without the prior (τ = 0); these are the labeller's figures.
Measured by {command}.
{CARD_END}
"""


def write_prior(folder: Path, record: dict[str, Any]) -> str:
    """Write the chosen prior into the folder (τ = 0 removes one); returns the new model id.

    Every file is written in full beside its target first; only then are they moved into place,
    the weights last, so a failure while writing leaves the folder as it was.
    """
    if "test_with" not in record:
        raise ValueError("this choice was made without the test figures the card records")
    weights_path = folder / WEIGHTS_FILE
    with safe_open(str(weights_path), "pt") as handle:  # one read: tensors and header
        metadata = handle.metadata()  # kept as it was
        state = {k: handle.get_tensor(k).contiguous() for k in handle.keys()}  # noqa: SIM118 (not iterable)
    state.pop(LOG_WEIGHT_KEY, None)
    if record["strength"] > 0:
        state[LOG_WEIGHT_KEY] = torch.tensor(record["log_weight"], dtype=torch.float32)
    staged = {weights_path: weights_path.with_name(WEIGHTS_FILE + ".tmp")}
    save_file(state, str(staged[weights_path]), metadata=metadata)
    new_id = sha256_file(staged[weights_path])

    texts: dict[Path, str] = {}
    config = json.loads((folder / "config.json").read_text())
    config.pop("label_prior", None)
    if record["strength"] > 0:
        skipped = ("validation", "test_without", "test_confusion_without")
        config["label_prior"] = {k: v for k, v in record.items() if k not in skipped}
    texts[folder / "config.json"] = json.dumps(config, indent=2) + "\n"
    if (folder / "metrics.json").is_file():
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["model_id"], metrics["label_prior"] = new_id, record
        texts[folder / "metrics.json"] = json.dumps(metrics, indent=2) + "\n"
    if (folder / "MODEL_CARD.md").is_file():
        texts[folder / "MODEL_CARD.md"] = _card_with(
            (folder / "MODEL_CARD.md").read_text(), record, new_id
        )
    for path, text in texts.items():
        staged[path] = path.with_name(path.name + ".tmp")
        staged[path].write_text(text)
    for path in [*texts, weights_path]:  # the weights, which the labeller reads, last
        staged[path].replace(path)
    return new_id


def _card_with(card: str, record: dict[str, Any], new_id: str) -> str:
    """The card with the new id and this prior's section (none for τ = 0) after ``## Model``."""
    card = re.sub(
        re.escape(CARD_START) + ".*?" + re.escape(CARD_END) + "\n\n?", "", card, flags=re.S
    )
    card = re.sub(r"(\*\*Model id\*\*.*?`)[0-9a-f]{64}(`)", rf"\g<1>{new_id}\g<2>", card)
    if record["strength"] > 0:
        at = card.find("\n## Data")
        at = len(card) if at < 0 else at + 1
        card = card[:at] + card_section(record) + "\n" + card[at:]
    return card
