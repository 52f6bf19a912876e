"""An exponential moving average of a model's weights, validated and saved in its place.

Why: the source CNN, trained against its recording-setup adversary, swings by about 0.05 of
validation macro-F1 from one epoch to the next, so early stopping picks a lucky epoch as much as
a good one. The average of the recent weights (Polyak averaging; as in mean-teacher and SWA)
moves smoothly and tends to sit in a flatter, better-generalising place than any single step.
The flow-matching mel prior (:mod:`ml.synth.train_flow_prior`) ships such an average too.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """``averaged = d * averaged + (1 - d) * model`` after every optimiser step.

    ``d`` starts small and rises to ``decay`` (``min(decay, (1 + n) / (10 + n))`` after ``n``
    updates), so the first steps' random weights do not linger. Only parameters are averaged:
    buffers (BatchNorm statistics) are copied from the model by :meth:`copy_buffers`, or set
    afresh by recalibrating the averaged model's BatchNorm on fixed batches.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model)
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for averaged, current in zip(self.model.parameters(), model.parameters(), strict=True):
            averaged.lerp_(current.detach(), 1.0 - d)

    @torch.no_grad()
    def copy_buffers(self, model: nn.Module) -> None:
        for averaged, current in zip(self.model.buffers(), model.buffers(), strict=True):
            averaged.copy_(current)
