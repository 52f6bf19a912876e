"""The moving average of a model's weights (``ml.weight_average``) and its place in training.

The unit tests need no data. The last test trains a short real source run with the average on
(it needs ``../shared``) and checks that what was saved is the average, not the last step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ml.train import TrainConfig, train
from ml.weight_average import WeightAverage
from tests.ml.tiny_runs import tiny_source_config


def _linear(value: float) -> nn.Linear:
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(value)
        layer.bias.fill_(value)
    return layer


def test_the_average_follows_the_weights_at_the_rate_its_warm_up_allows() -> None:
    model = _linear(0.0)
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(1.0)
    average.update(model)  # d = min(0.9, 2 / 11): mostly the new weights
    assert torch.allclose(average.model.weight, torch.full((1, 2), 1 - 2 / 11))
    for _ in range(200):
        average.update(model)
    assert torch.allclose(average.model.weight, torch.ones(1, 2), atol=1e-6)


def test_late_in_training_one_step_moves_the_average_by_one_minus_decay() -> None:
    model = _linear(0.0)
    average = WeightAverage(model, decay=0.99)
    for _ in range(5000):  # warm-up long over: d is 0.99
        average.update(model)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average.update(model)
    assert torch.allclose(average.model.weight, torch.full((1, 2), 0.01), atol=1e-6)
    assert torch.equal(average.model.bias, torch.zeros(1))  # unchanged parameter stays put


def test_the_average_is_a_copy_that_takes_no_gradient() -> None:
    model = _linear(0.5)
    average = WeightAverage(model, decay=0.9)
    assert average.model is not model
    assert all(not p.requires_grad for p in average.model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_buffers_are_copied_not_averaged() -> None:
    model = nn.BatchNorm1d(3)
    average = WeightAverage(model, decay=0.9)
    model.train()
    model(torch.randn(8, 3) + 5.0)
    average.copy_buffers(model)
    assert torch.equal(average.model.running_mean, model.running_mean)


def test_a_decay_outside_the_open_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="decay must be in"):
        WeightAverage(_linear(0.0), decay=1.0)
    with pytest.raises(ValueError, match="weight_ema must be in"):
        TrainConfig(task="source", arch="mfcc_cnn", weight_ema=1.0)


@pytest.mark.shared
@pytest.mark.slow
def test_a_run_with_the_average_saves_the_average(tmp_path: Path, shared_dir: Path) -> None:
    config = tiny_source_config(weight_ema=0.9, epochs=1)  # one epoch: it is the best one
    run_dir = tmp_path / "run"
    train(config, run_dir, shared_dir=shared_dir, cache_dir=tmp_path / "cache", progress=False)
    saved = load_file(str(run_dir / "model.safetensors"))
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert set(saved) == set(checkpoint["model"]) == set(checkpoint["weight_average"])
    name = "head.1.weight"
    # the last step's weights are not what was saved; the average of the best epoch is
    assert not torch.equal(saved[name], checkpoint["model"][name])
    assert torch.equal(saved[name], checkpoint["weight_average"][name])
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored["training"]["weight_ema"] == 0.9
