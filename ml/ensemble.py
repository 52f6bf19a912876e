"""Ensembles: several trained models of one task in one folder, their probabilities averaged.

Why: the AST the design asks for and the MFCC-CNN that beat it see different features (128-bin
log-mel patches against 40 MFCCs through convolutions) and make different mistakes, and seeds of
one recipe disagree on the hard clips; the mean of their clip probabilities can be better than
any one of them. Whether it is, is measured like any run: ``miao eval`` scores the folder on
validation beside its members before anything ships.

The folder looks like a run to everything that reads one: ``config.json`` (``model.arch``
``ensemble``, and per member its model, front end, input spec, training settings and where it
came from), ``model.safetensors`` (every member's weights under ``members.<i>.``, so the id,
the file's sha256, names every weight that labelled) and ``split.csv`` (the members' one split).
Loading is :func:`ml.registry.load_members`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from ml.label_prior import LOG_WEIGHT_KEY
from ml.registry import (
    ENSEMBLE_ARCH,
    WEIGHTS_FILE,
    ModelNotFoundError,
    member_prefix,
    sha256_file,
)
from ml.tasks import get_task
from ml.train import best_epoch

COMBINE = "mean of the members' clip probabilities (each member averages its own windows)"


class EnsembleMismatch(ValueError):
    """Members that cannot be averaged honestly: other task, labels or split."""


def _member_entry(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """What the ensemble's config keeps of one member (its ``config.json``, already read)."""
    if config["model"].get("arch") == ENSEMBLE_ARCH:
        raise EnsembleMismatch(f"{folder} is an ensemble already; list its members instead")
    entry: dict[str, Any] = {
        key: config[key]
        for key in ("model", "front_end", "input", "training", "pretrained")
        if key in config
    }
    best = best_epoch(folder)
    if best is not None:
        entry["best"] = best
    entry["weights_id"] = sha256_file(folder / WEIGHTS_FILE)
    entry["folder"] = str(folder)
    return entry


def build_ensemble(task: str, members: list[Path], out: Path) -> Path:
    """Write an ensemble folder of ``members`` (run or weights folders of ``task``) to ``out``.

    Refuses members of another task or label order, members trained on other split seeds, and
    ``split.csv`` files that differ: averaging models that held out different clips would
    leak one member's training clips into the others' evaluation.
    """
    spec = get_task(task)
    if len(members) < 2:
        raise EnsembleMismatch("an ensemble needs at least two members")
    entries, state, splits = [], {}, []
    for index, folder in enumerate(members):
        if not (folder / "config.json").is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise ModelNotFoundError(f"{folder} needs config.json and {WEIGHTS_FILE}")
        config = json.loads((folder / "config.json").read_text())
        if config.get("task") != task or list(config.get("labels", [])) != list(spec.labels):
            raise EnsembleMismatch(f"{folder} is a model of {config.get('task')!r}, not {task!r}")
        entries.append(_member_entry(folder, config))
        tensors = load_file(str(folder / WEIGHTS_FILE))
        if LOG_WEIGHT_KEY in tensors:
            raise EnsembleMismatch(
                f"{folder} carries a label prior (ml.label_prior); ensemble the runs it was made "
                "from and choose a prior for the ensemble"
            )
        state.update({member_prefix(index) + k: v.contiguous() for k, v in tensors.items()})
        if (folder / "split.csv").is_file():
            splits.append((folder, (folder / "split.csv").read_bytes()))
    seeds = {int(e["training"]["split_seed"]) for e in entries}
    if len(seeds) != 1:
        raise EnsembleMismatch(f"members were trained on different split seeds: {sorted(seeds)}")
    if not splits:
        raise EnsembleMismatch("no member has a split.csv: the ensemble's split would be unknown")
    for folder, text in splits[1:]:
        if text != splits[0][1]:
            raise EnsembleMismatch(f"{folder}/split.csv differs from {splits[0][0]}/split.csv")
    config = {
        "task": task,
        "labels": list(spec.labels),
        "model": {"arch": ENSEMBLE_ARCH, "combine": COMBINE, "members": len(entries)},
        "training": {"split_seed": seeds.pop()},
        "members": entries,
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    (out / "split.csv").write_bytes(splits[0][1])
    (out / "config.json").write_text(json.dumps(config, indent=2))
    tmp.replace(out / WEIGHTS_FILE)  # last: a folder with weights is a whole ensemble
    return out
