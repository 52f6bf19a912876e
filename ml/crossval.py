"""Grouped k-fold cross-validation on the non-test part of a task, for choosing a configuration.

Why: the small tasks (infant-cry: 57 validation clips, one of them ``burping``; cat-context:
17 cats) picked their shipped model on one tiny validation split, which is noise. Here the
train + validation parts of the task's seeded group split are pooled and cut into ``k`` folds by
the ``group`` column (sklearn's ``StratifiedGroupKFold``: no group in two folds, labels spread as
evenly as whole groups allow). Every configuration is trained ``k`` times with the project's own
:func:`ml.train.train`, for a fixed number of epochs (no early stopping: the fold being scored
must not also pick the epoch), and the last epoch's model is scored on the held-out fold. The test
part is never read: it is only passed on so that augmentation noise excludes its recordings.

The report gives per fold and mean ± sd accuracy, macro-F1 and balanced accuracy per
configuration, the pooled out-of-fold scores (every clip predicted once, by the model that did not
see its group: steadier than a per-fold mean when a class has one clip per fold) and the majority
class fitted on each fold's training part. Folds are written to ``folds.csv``.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ml.data import Clip, Split, default_shared_dir
from ml.evaluate import majority_metrics, metrics, run_predictions
from ml.models.baselines import DEFAULT_CNN_CHANNELS
from ml.tasks import get_task

SCORES = ("accuracy", "macro_f1", "balanced_accuracy")

CARD_HEADING = "## Cross-validation (model selection)"


@dataclass(frozen=True)
class Fold:
    """One fold: the clips trained on and the held-out clips scored (no group on both sides)."""

    index: int
    train: tuple[Clip, ...]
    val: tuple[Clip, ...]

    def check_disjoint(self) -> None:
        shared = {c.group for c in self.train} & {c.group for c in self.val}
        if shared:
            raise ValueError(f"fold {self.index}: group(s) on both sides: {sorted(shared)[:5]}")


def make_folds(clips: Sequence[Clip], k: int, seed: int) -> list[Fold]:
    """``k`` grouped, label-stratified folds of ``clips``; the same clips and seed give the same.

    The clips are put in a canonical order first (by path), so the folds do not depend on the
    order they came in.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    ordered = sorted(clips, key=lambda c: (c.dataset, str(c.path)))
    groups = [c.group for c in ordered]
    n_groups = len(set(groups))
    if n_groups < k:
        raise ValueError(f"{k} folds need at least {k} groups; the clips have {n_groups}")
    labels = [c.label for c in ordered]
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for i, (train_idx, val_idx) in enumerate(
        splitter.split(np.zeros(len(ordered)), labels, groups)
    ):
        fold = Fold(
            i,
            tuple(ordered[j] for j in train_idx),
            tuple(ordered[j] for j in val_idx),
        )
        fold.check_disjoint()
        folds.append(fold)
    return folds


def capped_folds(
    clips: Sequence[Clip], k: int, seed: int, max_clips_per_class: int | None = None
) -> tuple[list[Clip], list[Fold]]:
    """The clips a CV folds (capped per label first, when asked) and their folds: what
    :func:`run_cv` trains on and :func:`out_of_fold` rebuilds from its report."""
    kept = list(clips)
    if max_clips_per_class:
        from ml.train import cap_per_class

        kept = list(cap_per_class(kept, max_clips_per_class, seed))
    return kept, make_folds(kept, k, seed)


REPORT = "cv_report.json"


def read_report(cv_dir: Path) -> dict[str, Any]:
    """A CV folder's report; a folder without one is a clear error that says what to run."""
    path = cv_dir / REPORT
    if not path.is_file():
        raise FileNotFoundError(f"no {path}; run `miao cv` with --out {cv_dir} first")
    return json.loads(path.read_text())


def write_folds(folds: Sequence[Fold], path: Path, root: Path | None = None) -> Path:
    """One row per held-out clip: ``fold,path,label,group,dataset`` (paths relative to ``root``)."""
    root = Path(root or default_shared_dir()).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("fold", "path", "label", "group", "dataset"))
        for fold in folds:
            for c in fold.val:
                try:
                    shown = c.path.resolve().relative_to(root).as_posix()
                except ValueError:
                    shown = str(c.path)
                writer.writerow((fold.index, shown, c.label, c.group, c.dataset))
    tmp.replace(path)
    return path


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` → ``(name, overrides)`` of :class:`ml.train.TrainConfig`.

    Values are read as JSON where they parse (``10``, ``0.3``, ``true``, ``null``,
    ``[32,64,128]``: commas inside brackets stay in the value), else as text (``balance=loss``,
    ``arch=mfcc_cnn``). Unknown keys are an error that lists the known ones.
    """
    from ml.train import TrainConfig

    name, _, body = text.partition(":")
    name = name.strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"variant {text!r}: give it a name of letters, digits, - or _ first")
    known = {f.name for f in fields(TrainConfig)} - {"task"}
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in _split_top_level(body))):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(
                f"variant {name!r}: {item!r} is not key=value with a TrainConfig key "
                f"({', '.join(sorted(known))})"
            )
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw.strip()
    return name, overrides


def _split_top_level(body: str) -> list[str]:
    """``body`` split at the commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"variant settings {body!r}: a ']' closes no '['")
        if char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    if depth:
        raise ValueError(f"variant settings {body!r}: a '[' is never closed")
    return [*parts, body[start:]]


def variant_config(task: str, base: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The :class:`ml.train.TrainConfig` of one variant: ``base`` settings, then ``overrides``.

    No early stopping (patience = epochs) and the arch's default learning rate unless given.
    """
    from ml.train import DEFAULT_LR, TrainConfig

    merged = {**base, **overrides}
    arch = str(merged.get("arch", "mfcc_cnn"))
    merged.setdefault("lr", DEFAULT_LR.get(arch, 1e-3))
    if "lr" not in overrides and "arch" in overrides and "lr" in base:
        merged["lr"] = DEFAULT_LR.get(arch, base["lr"])
    merged["patience"] = int(merged.get("epochs", 40))
    return TrainConfig(task=task, **merged)


LAST_WEIGHTS = "last.safetensors"


def save_last_epoch(run_dir: Path) -> None:
    """Save the run's last-epoch weights (from ``checkpoint.pt``) as ``last.safetensors``.

    The checkpoint is written after the epoch's BatchNorm recalibration, so it is the model the
    epoch's validation scores describe.
    """
    import torch
    from safetensors.torch import save_file

    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(run_dir / LAST_WEIGHTS))


def _last_epoch_predictions(run_dir: Path, clips: Sequence[Clip], cache_dir: Path) -> list[str]:
    """Labels of ``clips`` from the run's last epoch."""
    save_last_epoch(run_dir)
    return run_predictions(run_dir, clips, cache_dir, weights=LAST_WEIGHTS)[0]


@dataclass(frozen=True)
class OutOfFold:
    """One fold's held-out clips as its model (last epoch) scored them, for post-hoc choices
    such as a label prior: every clip is scored by a model that never heard its group."""

    fold_seed: int
    fold: int
    y_true: tuple[str, ...]
    probabilities: np.ndarray  # [clips, labels], in the task's label order
    train_counts: dict[str, int]  # the fold's training clips per label
    groups: tuple[str, ...] = ()  # each held-out clip's manifest group (for group_weights)

    def clip_weights(self) -> np.ndarray:
        """:func:`group_weights` of the held-out clips; a fold without groups is an error."""
        if len(self.groups) != len(self.y_true):
            raise ValueError(
                f"fold {self.fold} of fold seed {self.fold_seed} has no groups to weigh"
            )
        return group_weights(self.groups)


def group_weights(groups: Sequence[str]) -> np.ndarray:
    """One over the number of clips of each clip's group: every group counts once.

    Why: a fold's clips are not equally independent. dog-bark's ``noise_other`` room is one
    recording cut into 108 slices; pooled per clip, it weighs as much as every catsdogs cat and
    baby laugh together (dog-bark card, the whole 16 kHz band).
    """
    counts = Counter(groups)
    return np.array([1.0 / counts[g] for g in groups], dtype=np.float64)


def out_of_fold(
    cv_dir: Path,
    variant: str,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
) -> list[OutOfFold]:
    """Every fold of ``variant`` in a CV folder, its held-out clips scored by its last epoch.

    The folds are rebuilt from the report (task, split seed, fold seed, k) and must match what
    it recorded, so a changed manifest or split cannot pair a model with clips it trained on.
    """
    from ml.train import make_split

    path = cv_dir / REPORT
    report = read_report(cv_dir)
    if variant not in report["variants"]:
        raise ValueError(
            f"no variant {variant!r} in {path}; it has {', '.join(report['variants'])}"
        )
    labels = list(get_task(report["task"]).labels)
    split = make_split(report["task"], int(report["split_seed"]), shared_dir)
    _, folds = capped_folds(
        [*split.train, *split.val],
        int(report["k"]),
        int(report["seed"]),
        report.get("max_clips_per_class"),
    )
    out = []
    for fold, recorded in zip(folds, report["folds"], strict=True):
        counts = {lab: sum(c.label == lab for c in fold.val) for lab in labels}
        if len(fold.val) != recorded["n_val"] or counts != recorded["val_counts"]:
            raise ValueError(
                f"{path}: fold {fold.index} no longer holds the clips it was scored on"
            )
        run_dir = cv_dir / variant / f"fold-{fold.index}"
        if not (run_dir / LAST_WEIGHTS).is_file():  # run_cv saves it when it scores the fold
            raise FileNotFoundError(f"no last-epoch fold model {run_dir / LAST_WEIGHTS}")
        _, probs = run_predictions(run_dir, fold.val, cache_dir, weights=LAST_WEIGHTS)
        out.append(
            OutOfFold(
                fold_seed=int(report["seed"]),
                fold=fold.index,
                y_true=tuple(c.label for c in fold.val),
                probabilities=probs,
                train_counts={lab: sum(c.label == lab for c in fold.train) for lab in labels},
                groups=tuple(c.group for c in fold.val),
            )
        )
    return out


def weighted_fold_scores(folds: Sequence[OutOfFold], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Each fold's scores (argmax labels, no prior) with every held-out group counted once.

    Why: per clip, a recording cut into 108 slices outweighs a hundred one-clip groups, and on
    dog-bark one such room decided folds (its card). The entries have the keys of a report's
    ``per_fold`` rows that :func:`fold_scores` reads, so :func:`compare_variants` takes them.
    """
    out = []
    for f in folds:
        predicted = [labels[i] for i in np.asarray(f.probabilities).argmax(axis=1)]
        m = metrics(f.y_true, predicted, labels, sample_weight=f.clip_weights())
        out.append({"fold": f.fold, **_brief(m)})
    return out


def group_weighted_report(
    cv_dir: Path,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
) -> dict[str, Any]:
    """A CV folder's report with every variant's folds scored again, each group counted once
    (:func:`weighted_fold_scores` over the fold models' held-out clips, :func:`out_of_fold`)."""
    report = read_report(cv_dir)
    labels = list(get_task(report["task"]).labels)
    for name, variant in report["variants"].items():
        variant["per_fold"] = weighted_fold_scores(
            out_of_fold(cv_dir, name, shared_dir, cache_dir), labels
        )
        variant.update(_summary(variant["per_fold"]))
        variant.pop("pooled", None)  # per clip; not what this report scores
    report["group_weighted"] = True
    return report


def _summary(per_fold: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in SCORES:
        values = np.array([float(f[key]) for f in per_fold])
        out[key] = {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        }
    return out


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in ("n", *SCORES, "macro_f1_present_classes")} | {
        "per_class_f1": {label: m["f1"] for label, m in result["per_class"].items()}
    }


def run_cv(
    task: str,
    variants: dict[str, dict[str, Any]],
    out_dir: Path,
    *,
    clips: Sequence[Clip] | None = None,
    test: Sequence[Clip] = (),
    k: int = 5,
    seed: int = 0,
    split_seed: int = 0,
    max_clips_per_class: int | None = None,
    base: dict[str, Any] | None = None,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cross-validate every variant on the same folds; write and return ``cv_report.json``.

    ``clips`` default to the train + validation parts of the task's group split (``split_seed``)
    and ``test`` to its test part, which is only used to keep its recordings out of the
    augmentation noise. ``max_clips_per_class`` caps the clips before folding (quick runs, tests).
    Each fold's run lives in ``out_dir/<variant>/fold-<i>/``.
    """
    from ml.train import make_split
    from ml.train import train as train_run

    started = time.time()
    labels = list(get_task(task).labels)
    if clips is None:
        split = make_split(task, split_seed, shared_dir)
        clips, test = [*split.train, *split.val], split.test
    clips, folds = capped_folds(clips, k, seed, max_clips_per_class)
    test_groups = {c.group for c in test}
    leaked = test_groups & {c.group for c in clips}
    if leaked:
        raise ValueError(
            f"{len(leaked)} test group(s) are among the CV clips: {sorted(leaked)[:3]}"
        )
    base = {"seed": seed, **(base or {})}
    configs = {name: variant_config(task, base, over) for name, over in variants.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_folds(folds, out_dir / "folds.csv", shared_dir)

    report: dict[str, Any] = {
        "task": task,
        "k": k,
        "seed": seed,
        "split_seed": split_seed,
        "n_clips": len(clips),
        "max_clips_per_class": max_clips_per_class,
        "n_groups": len({c.group for c in clips}),
        "class_counts": {lab: sum(c.label == lab for c in clips) for lab in labels},
        "test_part_read": False,
        "folds": [
            {
                "fold": f.index,
                "n_train": len(f.train),
                "n_val": len(f.val),
                "val_groups": len({c.group for c in f.val}),
                "val_counts": {lab: sum(c.label == lab for c in f.val) for lab in labels},
            }
            for f in folds
        ],
        "variants": {},
    }
    # The majority class, fitted on each fold's training part.
    maj_folds, maj_true, maj_pred = [], [], []
    for f in folds:
        y_true = [c.label for c in f.val]
        m = majority_metrics([c.label for c in f.train], y_true, labels)
        maj_folds.append({"fold": f.index, **_brief(m), "predicts": m["predicts"]})
        maj_true += y_true
        maj_pred += [m["predicts"]] * len(y_true)
    report["majority"] = {
        "per_fold": maj_folds,
        **_summary(maj_folds),
        "pooled": _brief(metrics(maj_true, maj_pred, labels)),
    }

    def save() -> None:
        report["wall_s"] = round(time.time() - started, 1)
        tmp = out_dir / "cv_report.json.tmp"
        tmp.write_text(json.dumps(report, indent=2))
        tmp.replace(out_dir / "cv_report.json")

    save()
    for name, config in configs.items():
        per_fold: list[dict[str, Any]] = []
        pooled_true: list[str] = []
        pooled_pred: list[str] = []
        curves: list[list[float]] = []
        for f in folds:
            t0 = time.time()
            run_dir = out_dir / name / f"fold-{f.index}"
            fold_split = Split(f.train, f.val, tuple(test), seed=seed)
            result = train_run(
                config,
                run_dir,
                shared_dir=shared_dir,
                cache_dir=cache_dir,
                split=fold_split,
                progress=progress,
            )
            y_true = [c.label for c in f.val]
            y_pred = _last_epoch_predictions(run_dir, f.val, cache_dir)
            m = metrics(y_true, y_pred, labels)
            per_fold.append(
                {
                    "fold": f.index,
                    **_brief(m),
                    "epochs": len(result.history),
                    "best_epoch_on_fold": result.best_epoch,
                    "best_macro_f1_on_fold": result.val_macro_f1,
                    "seconds": round(time.time() - t0, 1),
                }
            )
            curves.append([h["val_macro_f1"] for h in result.history])
            pooled_true += y_true
            pooled_pred += y_pred
            log(
                f"{task} cv {name} fold {f.index + 1}/{k}: macro-F1 {m['macro_f1']:.3f} "
                f"balanced acc {m['balanced_accuracy']:.3f} ({time.time() - t0:.0f} s)"
            )
        n_epochs = min(len(c) for c in curves)
        report["variants"][name] = {
            "config": {key: value for key, value in asdict(config).items() if key != "task"},
            "overrides": variants[name],
            "per_fold": per_fold,
            **_summary(per_fold),
            "pooled": _brief(metrics(pooled_true, pooled_pred, labels)),
            # mean fold macro-F1 after each epoch (information only: picking the epoch from it
            # would be tuned on the folds)
            "mean_val_macro_f1_by_epoch": [
                float(np.mean([c[e] for c in curves])) for e in range(n_epochs)
            ],
        }
        save()
    report["ranking"] = sorted(
        report["variants"],
        key=lambda n: -report["variants"][n]["macro_f1"]["mean"],
    )
    save()
    return report


def merge_reports(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One report from several CV runs of the same task on the same folds (for the card).

    Refused when the folds differ (task, seed, split seed, k or the fold contents), since
    variants scored on other folds are not comparable.
    """
    if not reports:
        raise ValueError("no reports to merge")
    first = reports[0]
    merged = json.loads(json.dumps(first))
    for other in reports[1:]:
        for key in ("task", "k", "seed", "split_seed", "n_clips", "folds"):
            if other[key] != first[key]:
                raise ValueError(f"cannot merge CV reports with a different {key!r}")
        for name, variant in other["variants"].items():
            if name in merged["variants"]:
                raise ValueError(f"variant {name!r} is in two reports")
            merged["variants"][name] = variant
        merged["wall_s"] = merged.get("wall_s", 0) + other.get("wall_s", 0)
    threads = {v.get("config", {}).get("threads") for v in merged["variants"].values()}
    if len(threads) > 1:
        # The folds' scores move with the thread count (float sums in another order): on
        # cat-context one recipe scored 0.465 on 2 threads and 0.488 on 1.
        raise ValueError(
            f"cannot merge CV reports whose variants ran on different torch thread counts "
            f"{sorted(threads, key=str)}: run them again with the same --threads"
        )
    merged["ranking"] = sorted(
        merged["variants"], key=lambda n: -merged["variants"][n]["macro_f1"]["mean"]
    )
    return merged


def fold_scores(variant: dict[str, Any], score: str) -> list[float]:
    """One variant's per-fold ``score``: a key of :data:`SCORES`, or ``f1:LABEL`` for one
    label's F1 (a binary task's headline, e.g. ``f1:bark``)."""
    if score in SCORES:
        return [float(f[score]) for f in variant["per_fold"]]
    label = score.removeprefix("f1:")
    if score == label or label not in variant["per_fold"][0]["per_class_f1"]:
        raise ValueError(f"unknown CV score {score!r}: {', '.join(SCORES)} or f1:LABEL")
    return [float(f["per_class_f1"][label]) for f in variant["per_fold"]]


def format_table(report: dict[str, Any]) -> str:
    """A markdown table: per variant mean ± sd and pooled scores, the majority class last.

    A task with a positive label (dog-bark's ``bark``) also gets that label's F1, its target.
    """
    positive = get_task(report["task"]).positive_label
    extra_head = f" {positive} F1 (mean ± sd) | pooled {positive} F1 |" if positive else ""
    lines = [
        "| configuration | macro-F1 (mean ± sd) | balanced accuracy (mean ± sd) | "
        "accuracy (mean ± sd) | pooled macro-F1 | pooled balanced acc. |" + extra_head,
        "|---|---|---|---|---|---|" + ("---|---|" if positive else ""),
    ]
    rows = [(n, v) for n, v in report["variants"].items()] + [
        ("majority class", report["majority"])
    ]
    for name, v in rows:
        cells = [f"{v[key]['mean']:.3f} ± {v[key]['sd']:.3f}" for key in SCORES]
        extra = ""
        if positive:
            values = np.array(fold_scores(v, f"f1:{positive}"))
            extra = (
                f" {values.mean():.3f} ± {values.std(ddof=1):.3f} | "
                f"{v['pooled']['per_class_f1'][positive]:.3f} |"
            )
        lines.append(
            f"| {name} | {cells[1]} | {cells[2]} | {cells[0]} | "
            f"{v['pooled']['macro_f1']:.3f} | {v['pooled']['balanced_accuracy']:.3f} |" + extra
        )
    return "\n".join(lines)


def compare_variants(
    reports: Sequence[dict[str, Any]], baseline: str, score: str = "macro_f1"
) -> dict[str, dict[str, Any]]:
    """Each variant against ``baseline`` over CV runs with other fold seeds, fold by fold.

    Why: one fold seed's mean can be luck (on cat-context a variant won 2 folds of 5 and the
    mean). Reports of the same fold seed are merged first (:func:`merge_reports`: same folds,
    same threads), so a variant run later into its own folder meets the baseline on its folds.
    Returns per variant: the mean ``score`` per fold seed (baseline beside it), the mean over
    all folds, and the folds won, lost and tied against the baseline on the same fold.
    """
    by_seed: dict[int, list[dict[str, Any]]] = {}
    for report in reports:
        by_seed.setdefault(int(report["seed"]), []).append(report)
    reports = [merge_reports(group) if len(group) > 1 else group[0] for group in by_seed.values()]
    out: dict[str, dict[str, Any]] = {}
    names = [n for n in dict.fromkeys(n for r in reports for n in r["variants"]) if n != baseline]
    for report in reports:
        if baseline not in report["variants"]:
            raise ValueError(f"report of fold seed {report['seed']} has no {baseline!r} variant")
    for name in names:
        rows, mine, theirs = [], [], []
        for report in reports:
            if name not in report["variants"]:
                continue
            a = fold_scores(report["variants"][name], score)
            b = fold_scores(report["variants"][baseline], score)
            rows.append(
                {"seed": report["seed"], "mean": float(np.mean(a)), "baseline": float(np.mean(b))}
            )
            mine += a
            theirs += b
        diffs = np.array(mine) - np.array(theirs)
        out[name] = {
            "per_seed": rows,
            "mean": float(np.mean(mine)),
            "baseline_mean": float(np.mean(theirs)),
            "folds": len(diffs),
            "won": int((diffs > 1e-9).sum()),
            "lost": int((diffs < -1e-9).sum()),
            "tied": int((np.abs(diffs) <= 1e-9).sum()),
        }
    return out


def describe_variant(v: dict[str, Any]) -> str:
    c = v["config"]
    size = c["epoch_size"]
    # without the sampler an epoch is a shuffled pass, cut at epoch_size
    draws = size if c["balance"] == "sampler" and size else f"at most {size or 'one pass of'}"
    preset = c.get("aug_preset", "default")
    copies = f"aug_copies {c['aug_copies']}" + (
        f" ({preset})" if c["aug_copies"] and preset != "default" else ""
    )
    return (
        f"{c['arch']}, {c['epochs']} epochs of {draws} draws, "
        f"windows of {c['window_frames']} frames, "
        f"balance={c['balance']}, lr {c['lr']:g}, mixup {c['mixup_alpha']:g}, "
        f"{copies}, crop_p {c['crop_p']:g}, gain ±{c['gain_db']:g} dB"
        + (
            f", CNN widths {'/'.join(map(str, c['cnn_channels']))}"
            if c["arch"] == "mfcc_cnn"
            and tuple(c.get("cnn_channels", DEFAULT_CNN_CHANNELS)) != DEFAULT_CNN_CHANNELS
            else ""
        )
        + (f", distilled from YAMNet {c['distill_weight']:g}" if c.get("distill_weight") else "")
        + (", labels from the distilled scores" if c.get("labels_from_teacher") else "")
        + (f", convolutions from {c['init_from']}" if c.get("init_from") else "")
        + (f" at {c['features_lr_scale']:g} x lr" if c.get("features_lr_scale", 1.0) != 1.0 else "")
        + (", per-clip cepstral mean removed" if c.get("clip_mean") else "")
        + (f", setup adversary {c['setup_adversary']:g}" if c.get("setup_adversary") else "")
        + (f", sound-kind head {c['sound_kind_weight']:g}" if c.get("sound_kind_weight") else "")
        + (f", weight EMA {c['weight_ema']:g}" if c.get("weight_ema") else "")
        + (", the whole 16 kHz band" if c.get("full_band") else "")
        + (", short clips tiled" if c.get("fill") == "tile" else "")
        + (
            f", {c['synthetic_negatives']} synthetic negatives "
            f"({c.get('synthetic_share', 0.35):.0%} of the negative label's draws)"
            if c.get("synthetic_negatives")
            else ""
        )
    )


def card_section(report: dict[str, Any], chosen: str | None = None) -> str:
    """The model card's cross-validation section, from a ``cv_report.json``."""
    counts = ", ".join(f"{k} {v}" for k, v in report["class_counts"].items())
    lines = [
        CARD_HEADING,
        "",
        f"Configurations compared by {report['k']}-fold grouped cross-validation "
        f"(`StratifiedGroupKFold`, seed {report['seed']}) on the train + validation parts "
        f"({report['n_clips']} clips, {report['n_groups']} groups: {counts}); the test part "
        "was not read. Each fold trains for a fixed number of epochs (no early stopping) and "
        "scores its last epoch on the held-out groups. Pooled: every clip predicted once by the "
        "fold model that did not see its group. `ml/crossval.py`, `miao cv`.",
        "",
        format_table(report),
        "",
        "Configurations:",
        "",
    ]
    for name, v in report["variants"].items():
        mark = " **(shipped)**" if name == chosen else ""
        lines.append(f"- `{name}`{mark}: {describe_variant(v)}.")
    return "\n".join(lines) + "\n"


def add_card_section(
    card: Path, report: dict[str, Any], chosen: str | None, note: str = ""
) -> None:
    """Put (or replace) the cross-validation section in a model card, before ``## Limits``."""
    text = card.read_text()
    if CARD_HEADING in text:
        start = text.index(CARD_HEADING)
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end + 1 :] if end != -1 else "")
    section = card_section(report, chosen) + (f"\n{note.strip()}\n" if note else "") + "\n"
    marker = "## Limits"
    text = text.replace(marker, section + marker, 1) if marker in text else text + "\n" + section
    card.write_text(text)


def train_final(
    task: str,
    config_fields: dict[str, Any],
    run_dir: Path,
    *,
    split_seed: int = 0,
    shared_dir: Path | None = None,
    cache_dir: Path = Path("var/cache"),
    progress: bool = True,
) -> dict[str, Any]:
    """Train a cross-validated configuration on the task's train part, keep its last epoch.

    The split is the project's (``split_seed``), so ``miao eval`` scores it beside the other
    runs; validation is only watched (patience = epochs), and ``model.safetensors`` becomes the
    last epoch's weights, as in the folds. The best-validation weights stay as
    ``best_val.safetensors`` for reference. Returns what ``final.json`` records.
    """
    from ml.train import TrainConfig, make_split
    from ml.train import train as train_run

    fields_ = {k: v for k, v in config_fields.items() if k != "task"}
    fields_["patience"] = int(fields_.get("epochs", 40))
    config = TrainConfig(task=task, **fields_)
    split = make_split(task, split_seed, shared_dir)
    result = train_run(
        config, run_dir, shared_dir=shared_dir, cache_dir=cache_dir, split=split, progress=progress
    )
    (run_dir / "model.safetensors").replace(run_dir / "best_val.safetensors")
    save_last_epoch(run_dir)
    (run_dir / LAST_WEIGHTS).replace(run_dir / "model.safetensors")
    last = result.history[-1]
    info = {
        "task": task,
        "run_dir": str(run_dir),
        "weights": f"last epoch ({last['epoch']})",
        "epochs": len(result.history),
        "val_macro_f1_last": last["val_macro_f1"],
        "val_balanced_accuracy_last": last["val_balanced_accuracy"],
        "best_val_epoch": result.best_epoch,
        "best_val_macro_f1": result.val_macro_f1,
    }
    (run_dir / "final.json").write_text(json.dumps(info, indent=2))
    return info


def final_note(final: dict[str, Any]) -> str:
    """The card's sentence on which epoch's weights were shipped (the Training line names the
    best validation epoch, which the shipped weights are not)."""
    return (
        f"Shipped weights: the {final['weights']} of a fixed-length run on the train part, as in "
        f"the folds; validation was only watched (its macro-F1 at that epoch: "
        f"{final['val_macro_f1_last']:.3f}, balanced accuracy "
        f"{final['val_balanced_accuracy_last']:.3f}). The best-validation epoch named in the "
        "Training line above was not used."
    )
