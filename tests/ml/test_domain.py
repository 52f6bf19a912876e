"""The recording-setup adversary (``ml.domain``) and its place in training.

The unit tests need no data. The last test trains a short real source run with the adversary on
(it needs ``../shared``) and checks that the adversary stays out of the saved weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.linear_model import LogisticRegression
from torch import nn

from ml.data import Clip
from ml.domain import (
    SetupAdversary,
    adversary_loss,
    recording_setup,
    reversal_scale,
    reverse_gradient,
    setup_targets,
)
from ml.models import MfccCNN
from ml.train import TrainConfig, train
from tests.ml.tiny_runs import tiny_source_config


def _clip(label: str, dataset: str, group: str) -> Clip:
    return Clip(Path(f"{dataset}/{group}.flac"), label, group, dataset)


def test_a_setup_is_the_dataset_or_the_origin_its_group_names() -> None:
    assert recording_setup(_clip("cat", "naya", "naya:angry/Cat_Angry1026")) == "naya"
    assert recording_setup(_clip("cat", "catsdogs", "ndc0001")) == "catsdogs"
    assert recording_setup(_clip("other", "noise_other", "esc50:1-100-A")) == "noise_other/esc50"
    assert recording_setup(_clip("other", "noise_other", "giulbia:x.m4a")) == "noise_other/giulbia"


def test_targets_allow_only_the_setups_a_label_was_recorded_in() -> None:
    clips = [
        _clip("cat", "naya", "naya:a"),
        _clip("cat", "catsdogs", "ndc1"),
        _clip("speech", "speech-fsdd", "speech-fsdd:george"),
        _clip("cry", "donateacry", "u1"),
        _clip("cry", "noise_other", "esc50:2"),
    ]
    targets = setup_targets(clips, ["cat", "speech", "cry"])
    assert targets.setups == sorted(
        ["naya", "catsdogs", "speech-fsdd", "donateacry", "noise_other/esc50"]
    )
    col = {name: i for i, name in enumerate(targets.setups)}
    assert (targets.target > 0).sum(1).tolist() == [1] * 5
    assert targets.target[0, col["naya"]] > 0
    cat_allowed = {targets.setups[i] for i in np.flatnonzero(targets.allowed[0])}
    assert cat_allowed == {"naya", "catsdogs"}
    cry_allowed = {targets.setups[i] for i in np.flatnonzero(targets.allowed[4])}
    assert cry_allowed == {"donateacry", "noise_other/esc50"}
    # speech comes from one setup only: nothing to contest
    assert targets.contested.tolist() == [True, True, False, True, True]


def test_each_setup_of_a_label_weighs_the_same_however_many_clips_it_has() -> None:
    clips = [_clip("cat", "naya", f"naya:{i}") for i in range(9)] + [_clip("cat", "catsdogs", "n")]
    targets = setup_targets(clips, ["cat"])
    naya, catsdogs = targets.setups.index("naya"), targets.setups.index("catsdogs")
    assert targets.target[:, naya].sum() == pytest.approx(targets.target[:, catsdogs].sum())
    assert targets.target.sum() == pytest.approx(len(clips))
    # always guessing naya, the biggest setup, is right for 9 clips of 10 but scores 0.5
    logits = torch.tensor([[1.0, 0.0] if naya == 0 else [0.0, 1.0]] * len(clips))
    _, hits = adversary_loss(
        logits, torch.from_numpy(targets.target), torch.from_numpy(targets.allowed)
    )
    assert hits == pytest.approx(0.5)


def test_the_gradient_comes_back_reversed_and_scaled() -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    (reverse_gradient(x, 0.5) * torch.tensor([3.0, 4.0])).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [-1.5, -2.0]
    assert reversal_scale(0.0) == 0.0
    assert 0.99 < reversal_scale(1.0) <= 1.0
    assert reversal_scale(0.1) < reversal_scale(0.5)


def test_the_loss_skips_uncontested_rows_and_never_picks_a_forbidden_setup() -> None:
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [9.0, 0.0, 1.0]])
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    allowed = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    loss, hits = adversary_loss(logits, target, allowed)
    # row 1 has one allowed setup: skipped; row 2's 9.0 is on a forbidden setup: masked away
    expected = (
        -(
            torch.log_softmax(torch.tensor([5.0, 0.0]), 0)[0]
            + torch.log_softmax(torch.tensor([0.0, 1.0]), 0)[1]
        )
        / 2
    )
    assert float(loss) == pytest.approx(float(expected))
    assert hits == 1.0
    none, no_hits = adversary_loss(logits[1:2], target[1:2], allowed[1:2])
    assert float(none) == 0.0 and math.isnan(no_hits)


def test_the_reversed_adversary_removes_the_setup_from_the_embedding() -> None:
    """Toy data where one input direction names the setup and another the label.

    The embedding is narrower than the input (as the CNN's pooled channels are), so the encoder
    chooses what to keep. Trained with the adversary, a probe fitted afterwards reads the setup
    from the embedding at chance, where one trained on the labels alone reads it well; the
    labels are learnt either way.
    """

    def embedding_after(weight: float) -> tuple[float, float]:
        gen = torch.Generator().manual_seed(0)
        n = 512
        label = torch.randint(0, 2, (n,), generator=gen)
        setup = torch.randint(0, 2, (n,), generator=gen)
        x = torch.randn(n, 16, generator=gen) * 0.3
        x[:, 0] += label * 2 - 1
        x[:, 1] += (setup * 2 - 1) * 1.5
        torch.manual_seed(0)
        encoder = nn.Linear(16, 3)
        head = nn.Linear(3, 2)
        adversary = SetupAdversary(3, 2, hidden=16)
        params = [*encoder.parameters(), *head.parameters(), *adversary.parameters()]
        opt = torch.optim.Adam(params, lr=0.01)
        target = nn.functional.one_hot(setup, 2).float()
        allowed = torch.ones(n, 2)
        for _ in range(300):
            emb = encoder(x)
            loss = nn.functional.cross_entropy(head(emb), label)
            if weight:
                loss = loss + weight * adversary_loss(adversary(emb, 1.0), target, allowed)[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
        emb = encoder(x).detach().numpy()
        half = n // 2
        probe = LogisticRegression(max_iter=2000).fit(emb[:half], setup[:half].numpy())
        setup_acc = probe.score(emb[half:], setup[half:].numpy())
        label_acc = float((head(encoder(x)).argmax(1) == label).float().mean())
        return setup_acc, label_acc

    plain_setup, plain_label = embedding_after(0.0)
    adv_setup, adv_label = embedding_after(1.0)
    assert plain_setup > 0.8
    assert adv_setup < 0.6
    assert plain_label > 0.95 and adv_label > 0.95


def test_the_adversary_is_refused_where_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="only for mfcc_cnn"):
        TrainConfig(task="source", arch="ast", setup_adversary=1.0)
    with pytest.raises(ValueError, match="setup_adversary must be >= 0"):
        TrainConfig(task="source", arch="mfcc_cnn", setup_adversary=-1.0)


@pytest.mark.shared
@pytest.mark.slow
def test_a_run_with_the_adversary_saves_a_plain_cnn(tmp_path: Path, shared_dir: Path) -> None:
    config = tiny_source_config(setup_adversary=1.0)
    run_dir = tmp_path / "run"
    train(config, run_dir, shared_dir=shared_dir, cache_dir=tmp_path / "cache", progress=False)
    history = json.loads((run_dir / "history.json").read_text())
    assert all(0.0 <= epoch["train_setup_accuracy"] <= 1.0 for epoch in history)
    saved = set(load_file(str(run_dir / "model.safetensors")))
    plain = MfccCNN(["cat", "dog", "infant_cry", "human_speech", "other"], 100, [8, 8, 8])
    assert saved == set(plain.state_dict())
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert set(checkpoint["setup_adversary"]) == {
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
    }
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored["training"]["setup_adversary"] == 1.0


@pytest.mark.shared
@pytest.mark.slow
def test_a_run_without_a_dataset_records_what_it_makes_of_it_every_epoch(
    tmp_path: Path, shared_dir: Path
) -> None:
    from ml.crossval import LAST_WEIGHTS, save_last_epoch
    from ml.data import build_task_dataset
    from ml.evaluate import run_predictions

    config = tiny_source_config(leave_out_datasets=["catmeows"])
    run_dir, cache_dir = tmp_path / "run", tmp_path / "cache"
    train(config, run_dir, shared_dir=shared_dir, cache_dir=cache_dir, progress=False)
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history) == config.epochs
    assert all(0.0 <= epoch["left_out_catmeows"] <= 1.0 for epoch in history)
    # the last record is what the last epoch's weights make of all of CatMeows' cats
    cats = [c for c in build_task_dataset("source", shared_dir) if c.dataset == "catmeows"]
    save_last_epoch(run_dir)
    labels, _ = run_predictions(run_dir, cats, cache_dir, weights=LAST_WEIGHTS)
    assert history[-1]["left_out_catmeows"] == pytest.approx(np.mean([x == "cat" for x in labels]))
    # a run that leaves nothing out records nothing of the kind
    plain = train(
        tiny_source_config(epochs=1),
        tmp_path / "plain",
        shared_dir=shared_dir,
        cache_dir=cache_dir,
        progress=False,
    )
    assert not any(k.startswith("left_out_") for k in plain.history[0])
