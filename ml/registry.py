"""Shipped models: ``ml/weights/<task>/`` → a :class:`Labeller` whose id is its weights' sha256.

The id is what goes on-chain with every label, so it is computed from the exact bytes of
``model.safetensors`` that produced the label, never from a version string. A folder holds one
model, or an ensemble (``model.arch`` ``ensemble``, made by :mod:`ml.ensemble`): several models
in one weights file under ``members.<i>.``, whose clip probabilities are averaged, so one id still
names every weight that labelled. A folder may also carry a label prior (:mod:`ml.label_prior`):
a tensor in the same file that reweights the averaged probabilities.
:func:`label_file` runs ``source`` first and then the task that fits the source (cat → cat-emotion,
dog → dog-bark, infant_cry → infant-cry; see ``ml.tasks.SOURCE_ROUTES``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from ml.audio import load_audio
from ml.frontend import FrontEnd
from ml.label_prior import LOG_WEIGHT_KEY, reweighted
from ml.models import build_model
from ml.predict import InputSpec, clip_probabilities
from ml.tasks import SOURCE_ROUTES, TASKS, get_task

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = "model.safetensors"


class ModelNotFoundError(FileNotFoundError):
    """No shipped weights for a task (or the folder is incomplete)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of one part of a combined weights file (``wavenet.``, ``members.0.``), unprefixed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


ENSEMBLE_ARCH = "ensemble"


def member_prefix(index: int) -> str:
    """Where an ensemble's ``index``-th model lives in its weights file."""
    return f"members.{index}."


@dataclass(frozen=True)
class Member:
    """One model of a labeller: the network, how a wave becomes its input, and its windows."""

    model: nn.Module
    front_end: FrontEnd
    spec: InputSpec

    @classmethod
    def from_config(cls, config: dict[str, Any], state: dict[str, torch.Tensor]) -> Member:
        """A trained model from its config (``model``, ``front_end``, ``input``) and weights."""
        model = build_model(config["model"])
        model.load_state_dict(state)  # strict: every key, no more
        model.eval()
        if hasattr(model, "for_inference"):  # a faster copy with the same outputs (the CNN)
            model = model.for_inference()
        return cls(
            model, FrontEnd.from_dict(config["front_end"]), InputSpec.from_dict(config["input"])
        )


@dataclass(frozen=True)
class LoadedModel:
    """A run or weights folder as it labels: its config, its models, and its label prior."""

    config: dict[str, Any]
    members: list[Member]
    prior_log_weight: np.ndarray | None
    """τ · log prior per label (:mod:`ml.label_prior`), or ``None``: the members' mean as is."""

    def probabilities(self, features: dict[FrontEnd, list[np.ndarray]]) -> np.ndarray:
        """``[n_clips, n_labels]``: the members' mean, reweighted by the label prior if any."""
        probs = mean_probabilities(self.members, features)
        if self.prior_log_weight is None:
            return probs
        return reweighted(probs, self.prior_log_weight)


def load_members(folder: Path, weights: str = WEIGHTS_FILE) -> LoadedModel:
    """A run or weights folder's ``config.json``, its models (one, or an ensemble's members) and
    its label prior (``weights``: another weights file of the run, e.g. its last epoch's)."""
    config_path, weights_path = folder / "config.json", folder / weights
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelNotFoundError(f"{folder} needs config.json and {weights}")
    config = json.loads(config_path.read_text())
    state = load_file(str(weights_path))
    prior = state.pop(LOG_WEIGHT_KEY, None)
    if prior is not None and tuple(prior.shape) != (len(config["labels"]),):
        raise ValueError(f"{weights_path}: a label prior of shape {tuple(prior.shape)}")
    prior_weight = None if prior is None else prior.numpy()
    if config["model"].get("arch") != ENSEMBLE_ARCH:
        return LoadedModel(config, [Member.from_config(config, state)], prior_weight)
    entries = config["members"]
    members = [
        Member.from_config(entry, prefixed(state, member_prefix(i)))
        for i, entry in enumerate(entries)
    ]
    known = tuple(member_prefix(i) for i in range(len(entries)))
    stray = [k for k in state if not k.startswith(known)]
    if stray:
        raise ValueError(f"{weights_path}: tensors of no member, e.g. {stray[0]!r}")
    return LoadedModel(config, members, prior_weight)


def load_model_dir(
    folder: Path, weights: str = WEIGHTS_FILE
) -> tuple[nn.Module, dict[str, Any], InputSpec]:
    """The one model of a run or weights folder, its ``config.json`` and its input spec."""
    loaded = load_members(folder, weights)
    if len(loaded.members) != 1:
        raise ValueError(f"{folder} is an ensemble of {len(loaded.members)} models, not one model")
    member = loaded.members[0]
    return member.model, loaded.config, member.spec


def rounded_features(front_end: FrontEnd, wave: np.ndarray) -> np.ndarray:
    """A front end's features of a wave, rounded through float16 as the training cache stores
    them, so a label matches what the model was trained and evaluated on."""
    return front_end.features(wave).astype(np.float16).astype(np.float32)


def mean_probabilities(
    members: list[Member], features: dict[FrontEnd, list[np.ndarray]]
) -> np.ndarray:
    """``[n_clips, n_classes]``: each member's clip probabilities (from its front end's
    features), averaged over the members."""
    return np.mean(
        [clip_probabilities(m.model, features[m.front_end], m.spec) for m in members], axis=0
    )


@dataclass(frozen=True)
class Prediction:
    """A label, the probability of every label in the task's fixed order, and the model's id."""

    task: str
    label: str
    probabilities: dict[str, float]
    model_id: str


class Labeller:
    """One shipped model (or ensemble): wave (mono float32, 16 kHz) in, :class:`Prediction` out."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded = load_members(folder)
        self.task = str(self.config["task"])
        self.labels: list[str] = list(self.config["labels"])
        if self.labels != list(get_task(self.task).labels):
            raise ValueError(f"{folder}: labels differ from the task's fixed label set")
        self.model_id = sha256_file(folder / WEIGHTS_FILE)

    @property
    def config(self) -> dict[str, Any]:
        return self.loaded.config

    @property
    def members(self) -> list[Member]:
        return self.loaded.members

    @property
    def arch(self) -> str:
        """What the model is, in a word: ``mfcc_cnn``, ``ast``, or ``ensemble(ast+mfcc_cnn)``."""
        if self.config["model"].get("arch") != ENSEMBLE_ARCH:
            return str(self.config["model"]["arch"])
        return f"{ENSEMBLE_ARCH}({'+'.join(m['model']['arch'] for m in self.config['members'])})"

    def predict(self, wave: np.ndarray) -> Prediction:
        return self.predict_many([wave])[0]

    def predict_many(self, waves: list[np.ndarray]) -> list[Prediction]:
        # members that share a front end share its features: computed once per front end
        fronts = {m.front_end for m in self.members}
        feats = {front: [rounded_features(front, w) for w in waves] for front in fronts}
        # No lock: an eval-mode forward changes no state, so the API's threads label side by
        # side (two threads on two cores through analyze_clip: 148 -> 170 clips/s; through the
        # whole API the gain is within the noise, see the README's status).
        with torch.inference_mode():
            probs = self.loaded.probabilities(feats)
        return [self._prediction(p) for p in probs]

    def _prediction(self, probs: np.ndarray) -> Prediction:
        return Prediction(
            task=self.task,
            label=self.labels[int(np.argmax(probs))],
            probabilities={
                label: round(float(p), 6) for label, p in zip(self.labels, probs, strict=True)
            },
            model_id=self.model_id,
        )


_LOADED: dict[tuple[str, str], Labeller] = {}
_LOAD_LOCK = threading.Lock()


def weights_dir() -> Path:
    """``$MIAO_WEIGHTS_DIR`` if set (to try other weights), else the shipped ``ml/weights``."""
    env = os.environ.get("MIAO_WEIGHTS_DIR")
    return Path(env) if env else WEIGHTS_DIR


def shipped_tasks() -> list[str]:
    """Labelling tasks with weights; the synthesis models share ``ml/weights`` but label nothing."""
    root = weights_dir()
    return sorted(p.parent.name for p in root.glob(f"*/{WEIGHTS_FILE}") if p.parent.name in TASKS)


def load_labeller(task: str, root: Path | None = None) -> Labeller:
    """The labeller of a task in ``root/TASK`` (default: the shipped weights), loaded once per
    process; a folder holding another task's model is refused."""
    get_task(task)
    folder = (root or weights_dir()) / task
    key = (str(folder), task)
    with _LOAD_LOCK:
        if key not in _LOADED:
            if not (folder / WEIGHTS_FILE).is_file():
                raise ModelNotFoundError(f"no shipped model for task {task!r} in {folder}")
            labeller = Labeller(folder)
            if labeller.task != task:
                raise ValueError(f"{folder} holds a {labeller.task!r} model, not {task!r}")
            _LOADED[key] = labeller
        return _LOADED[key]


def label_wave(wave: np.ndarray, task: str | None = None) -> list[Prediction]:
    """Label a wave with ``task``, or with ``source`` and then the task its source routes to."""
    if task is not None:
        return [load_labeller(task).predict(wave)]
    source = load_labeller("source").predict(wave)
    follow = SOURCE_ROUTES.get(source.label)
    if follow is None or not (weights_dir() / follow / WEIGHTS_FILE).is_file():
        return [source]
    return [source, load_labeller(follow).predict(wave)]


def label_file(path: str | os.PathLike[str] | bytes, task: str | None = None) -> list[Prediction]:
    """Decode a file and label it (see :func:`label_wave`); decoding errors propagate."""
    return label_wave(load_audio(path), task)
