"""An auxiliary head that names what made a sound, to shape a binary task's embedding.

Why: ``dog-bark`` lumps everything that is not a bark into ``non_bark``. Cross-validated (one
fold seed), its false alarms were baby laughter (19 of 88) and catsdogs cats (17 of 107), which
share the barks' recording source, more than anything else. A model told only "bark or not"
may learn "recorded like the barks" as readily as "sounds like a bark". A second head that must
also name the clip's kind, its label in the ``source`` task (cat, dog, infant_cry, human_speech,
other), asks the embedding to put a catsdogs cat beside naya's cats rather than beside the dogs
it was recorded with. It is multi-task learning with a coarser, related label (Caruana,
"Multitask learning", 1997). The head is for training only: it is not in the saved weights, so
labelling is unchanged.

Measured on dog-bark's 15 cross-validation folds (README, dog-bark card): laughs and speech
called bark fell from 60 to 26 and 23 to 4, but the catsdogs cats did not move (56, 57), and
bark F1 rose by 0.026 only, under the bar set first. Not shipped; kept as a training option.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ml.data import Clip
from ml.tasks import SOURCE


def sound_kind(clip: Clip) -> str | None:
    """The clip's label in the ``source`` task, from its dataset and manifest label; None when
    that task does not read the clip's dataset or label."""
    for source in SOURCE.sources:
        if source.dataset == clip.dataset and clip.source_label in source.labels:
            return source.labels[clip.source_label]
    return None


def kind_targets(clips: Sequence[Clip]) -> np.ndarray:
    """One-hot ``[clips, source labels]`` targets; a zero row for a clip of no known kind."""
    kinds = list(SOURCE.labels)
    target = np.zeros((len(clips), len(kinds)), np.float32)
    for row, clip in enumerate(clips):
        kind = sound_kind(clip)
        if kind is not None:
            target[row, kinds.index(kind)] = 1.0
    return target


class SoundKindHead(nn.Module):
    """Names the sound's kind from the pooled embedding (an ordinary gradient: no reversal)."""

    def __init__(self, embedding_dim: int, kinds: int = len(SOURCE.labels)) -> None:
        super().__init__()
        self.net = nn.Linear(embedding_dim, kinds)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(embedding)


def kind_loss(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Cross-entropy over the rows with a target (mixup blends allowed), and how often the head
    names the target's main kind; 0 and NaN when no row has one."""
    rows = target.sum(1) > 0
    if not bool(rows.any()):
        return logits.new_zeros(()), float("nan")
    log_p = torch.log_softmax(logits[rows], -1)
    t = target[rows]
    hits = (logits[rows].argmax(-1) == t.argmax(-1)).float().mean()
    return -(t * log_p).sum() / t.sum(), float(hits)
