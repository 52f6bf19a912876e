"""Recording-setup invariance: an adversary that tries to tell recording setups apart, reversed.

The leave-one-dataset-out tests (README, source card) showed the labellers learning each
dataset's recordings more than its sounds: trained without CatMeows, the source CNN called 382 of
its 384 cats ``infant_cry``, because most training cries came through one phone app. This module
is the standard remedy from domain adaptation (Ganin & Lempitsky, "Unsupervised domain adaptation
by backpropagation", 2015), applied *within each label*: a small head learns to name a clip's
recording setup from the model's pooled embedding, among the setups that hold the clip's own
label (naya's cats against catsdogs' cats; Donate-a-Cry's cries against ESC-50's), and its
gradient reaches the model reversed. The model is pushed to an embedding in which two cats, or
two cries, recorded differently look alike; the labels keep it from forgetting what is which.
Conditioning on the label matters: a plain adversary over datasets would fight the labels,
because here the dataset all but names the label (every spoken digit is speech-fsdd).
Conditioning is not enough where one label lumps kinds of sound together: in dog-bark's
``non_bark`` the setups *are* the kinds (cats, noise, speech), and hiding them let barks and
speech meet (cross-validated, 123 of 160 false alarms were spoken digits; README). The
opposite head, one that names the kind (:mod:`ml.sound_kind`), cut those false alarms instead.

The head is for training only: it is not part of the saved weights, so labelling is unchanged.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ml.data import Clip


def recording_setup(clip: Clip) -> str:
    """The recording setup of a clip: its dataset, or the origin its group names within it.

    ``noise_other`` gathers recordings of different origins (``esc50:<id>``, ``giulbia:<file>``);
    a group prefix other than the dataset's own name marks such an origin.
    """
    prefix = clip.group.split(":", 1)[0] if ":" in clip.group else clip.dataset
    return clip.dataset if prefix == clip.dataset else f"{clip.dataset}/{prefix}"


@dataclass(frozen=True)
class SetupTargets:
    """Per training clip: its setup and the setups its label is found in.

    ``target`` is one-hot times a weight that gives every setup of a label the same total, so
    the adversary cannot score by naming a label's biggest setup (naya holds most cats).
    """

    setups: list[str]
    target: np.ndarray  # [clips, setups] one-hot, scaled by the clip's weight
    allowed: np.ndarray  # [clips, setups] 1 where the clip's label was recorded in that setup

    @property
    def contested(self) -> np.ndarray:
        """Clips whose label comes from two or more setups: the only ones the adversary sees."""
        return self.allowed.sum(1) >= 2


def setup_targets(clips: Sequence[Clip], labels: Sequence[str]) -> SetupTargets:
    """The adversary's targets for ``clips`` (the training part)."""
    names = [recording_setup(c) for c in clips]
    setups = sorted(set(names))
    index = {name: i for i, name in enumerate(setups)}
    per_label: dict[str, Counter[int]] = {label: Counter() for label in labels}
    for clip, name in zip(clips, names, strict=True):
        per_label[clip.label][index[name]] += 1
    target = np.zeros((len(clips), len(setups)), np.float32)
    allowed = np.zeros_like(target)
    for row, (clip, name) in enumerate(zip(clips, names, strict=True)):
        counts = per_label[clip.label]
        # every setup of the label weighs as much in total; the mean weight per clip is 1
        target[row, index[name]] = sum(counts.values()) / (len(counts) * counts[index[name]])
        allowed[row, sorted(counts)] = 1.0
    return SetupTargets(setups, target, allowed)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, scale: float
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale  # type: ignore[attr-defined]
        return x.view_as(x)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None  # type: ignore[attr-defined]


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; the gradient flowing back is multiplied by ``-scale``."""
    return _ReverseGradient.apply(x, scale)  # type: ignore[no-any-return]


def reversal_scale(progress: float) -> float:
    """Ganin's schedule: 0 at the start (the features mean nothing yet), rising to 1."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


class SetupAdversary(nn.Module):
    """Names the recording setup from a pooled embedding, through a gradient reversal."""

    def __init__(self, embedding_dim: int, setups: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, setups)
        )

    def forward(self, embedding: torch.Tensor, scale: float) -> torch.Tensor:
        return self.net(reverse_gradient(embedding, scale))


def adversary_loss(
    logits: torch.Tensor, target: torch.Tensor, allowed: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """Weighted cross-entropy among the allowed setups, over the contested rows; its accuracy.

    ``target`` carries each clip's weight (:func:`setup_targets`), so the accuracy is balanced
    across a label's setups. ``target`` and ``allowed`` may be mixup blends: a setup with any
    weight is allowed. Rows with fewer than two allowed setups, or no target (synthetic clips),
    add nothing.
    """
    ok = allowed > 0
    rows = (ok.sum(1) >= 2) & (target.sum(1) > 0)
    if not bool(rows.any()):
        return logits.new_zeros(()), float("nan")
    masked = logits.masked_fill(~ok, -1e9)
    log_p = torch.log_softmax(masked[rows], -1)
    weight = target[rows].sum(-1)
    loss = -(target[rows] * log_p).sum() / weight.sum()
    hit = (masked[rows].argmax(-1) == target[rows].argmax(-1)).float()
    return loss, float((weight * hit).sum() / weight.sum())
