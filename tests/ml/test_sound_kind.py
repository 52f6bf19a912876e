"""The auxiliary sound-kind head (``ml.sound_kind``) and its place in training.

The unit tests need no data. The last test trains a short real dog-bark run with the head on
(it needs ``../shared``) and checks that the head stays out of the saved weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ml.data import Clip
from ml.models import MfccCNN
from ml.sound_kind import SoundKindHead, kind_loss, kind_targets, sound_kind
from ml.train import TrainConfig, _sound_kind_head, train
from tests.ml.tiny_runs import tiny_source_config


def _clip(dataset: str, source_label: str, label: str = "non_bark") -> Clip:
    return Clip(Path(f"{dataset}/x.ogg"), label, "g", dataset, source_label=source_label)


def test_a_clip_is_of_the_kind_the_source_task_gives_its_dataset_and_label() -> None:
    assert sound_kind(_clip("catsdogs", "cat")) == "cat"
    assert sound_kind(_clip("catsdogs", "dog", "bark")) == "dog"
    assert sound_kind(_clip("naya", "angry")) == "cat"
    assert sound_kind(_clip("noise_other", "baby_cry")) == "infant_cry"
    assert sound_kind(_clip("noise_other", "baby_laugh")) == "other"
    assert sound_kind(_clip("speech-fsdd", "7")) == "human_speech"
    assert sound_kind(_clip("donateacry", "tired")) == "infant_cry"
    assert sound_kind(_clip("an_upload", "cat")) is None
    targets = kind_targets([_clip("catsdogs", "cat"), _clip("an_upload", "cat")])
    assert targets.tolist()[0] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert targets[1].sum() == 0.0


def test_the_loss_skips_rows_without_a_kind_and_is_cross_entropy_on_the_rest() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 1.0]])
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([0, 2]))
    loss, hits = kind_loss(logits, target)
    assert torch.isclose(loss, expected)
    assert hits == 1.0
    empty, none = kind_loss(logits, torch.zeros_like(target))
    assert empty.item() == 0.0 and math.isnan(none)


def test_the_head_teaches_the_embedding_the_kinds_a_label_lumps_together() -> None:
    """Its gradient is not reversed: an embedding trained only through it comes to name kinds."""
    gen = torch.Generator().manual_seed(0)
    kinds = torch.arange(3).repeat(40)
    x = torch.randn(120, 8, generator=gen) + 2.0 * torch.nn.functional.one_hot(kinds, 8)
    embed = torch.nn.Linear(8, 4)
    head = SoundKindHead(4, 3)
    target = torch.nn.functional.one_hot(kinds, 3).float()
    optimiser = torch.optim.Adam([*embed.parameters(), *head.parameters()], lr=0.05)
    first = kind_loss(head(embed(x)), target)[0].item()
    for _ in range(100):
        loss, _ = kind_loss(head(embed(x)), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first
    assert (head(embed(x)).argmax(1) == kinds).float().mean() > 0.9


def test_the_head_is_refused_where_it_cannot_help() -> None:
    with pytest.raises(ValueError, match="only for mfcc_cnn"):
        TrainConfig(task="dog-bark", arch="ast", sound_kind_weight=1.0)
    with pytest.raises(ValueError, match="sound_kind_weight must be >= 0"):
        TrainConfig(task="dog-bark", arch="mfcc_cnn", sound_kind_weight=-1.0)
    config = TrainConfig(task="cat-emotion", arch="mfcc_cnn", sound_kind_weight=1.0)
    with pytest.raises(ValueError, match="all of one kind"):
        _sound_kind_head(config, [_clip("naya", "angry", "angry"), _clip("naya", "happy")], 0)
    target, head = _sound_kind_head(
        TrainConfig(task="dog-bark", arch="mfcc_cnn", sound_kind_weight=1.0, cnn_channels=[8]),
        [_clip("catsdogs", "dog", "bark"), _clip("naya", "angry")],
        2,
    )
    assert head is not None
    assert target.shape == (4, 5)
    assert np.array_equal(target.sum(1), [1.0, 1.0, 0.0, 0.0])  # synthetic rows have no kind


@pytest.mark.shared
@pytest.mark.slow
def test_a_run_with_the_head_saves_a_plain_cnn(tmp_path: Path, shared_dir: Path) -> None:
    config = tiny_source_config(task="dog-bark", sound_kind_weight=1.0)
    run_dir = tmp_path / "run"
    train(config, run_dir, shared_dir=shared_dir, cache_dir=tmp_path / "cache", progress=False)
    history = json.loads((run_dir / "history.json").read_text())
    assert all(0.0 <= epoch["train_sound_kind_accuracy"] <= 1.0 for epoch in history)
    saved = set(load_file(str(run_dir / "model.safetensors")))
    assert saved == set(MfccCNN(["bark", "non_bark"], 100, [8, 8, 8]).state_dict())
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert set(checkpoint["sound_kind_head"]) == {"net.weight", "net.bias"}
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored["training"]["sound_kind_weight"] == 1.0
