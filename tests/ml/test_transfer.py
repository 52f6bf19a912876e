"""Transfer: a task's CNN starts from another task's convolutions, frozen or fine-tuned; and
cepstral mean normalisation per clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ml.models import MfccCNN
from ml.predict import InputSpec
from ml.registry import WEIGHTS_DIR, WEIGHTS_FILE, sha256_file
from ml.train import TrainConfig, input_spec_for, parameter_groups, train
from ml.transfer import TransferError, load_cnn_features

DONOR_LABELS = ["angry", "happy", "resting"]
LABELS = ["brushing", "waiting_for_food", "isolation"]


def _donor(folder: Path, channels: tuple[int, ...] = (4, 8, 8), arch: str = "mfcc_cnn") -> Path:
    torch.manual_seed(1)
    model = MfccCNN(DONOR_LABELS, window_frames=50, channels=channels)
    folder.mkdir(parents=True)
    config = {"task": "cat-emotion", "model": {**model.config_dict(), "arch": arch}}
    (folder / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS_FILE)
    return folder


def _features(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith("features.")}


def test_the_convolutions_come_from_the_donor_and_the_head_starts_fresh(tmp_path: Path) -> None:
    donor = _donor(tmp_path / "donor")
    torch.manual_seed(2)
    model = MfccCNN(LABELS, window_frames=50, channels=(4, 8, 8))
    head_before = model.head[1].weight.clone()
    info = load_cnn_features(model, donor)
    donor_state = load_file(donor / WEIGHTS_FILE)
    for key, value in _features(model).items():
        assert torch.equal(value, donor_state[key]), key
    assert torch.equal(model.head[1].weight, head_before)  # 3 new labels: not the donor's head
    assert info["donor_task"] == "cat-emotion"
    assert info["donor_model_id"] == sha256_file(donor / WEIGHTS_FILE)
    assert info["tensors"] == len(_features(model))


@pytest.mark.parametrize(
    ("channels", "arch", "message"),
    [
        ((4, 8, 16), "mfcc_cnn", "channels"),
        ((4, 8, 8, 16), "mfcc_cnn", "channels"),  # a deeper donor (cat-emotion since 2026-11-30)
        ((4, 8, 8), "ast", "not an mfcc_cnn"),
    ],
)
def test_a_donor_that_does_not_fit_is_refused_before_anything_changes(
    tmp_path: Path, channels: tuple[int, ...], arch: str, message: str
) -> None:
    donor = _donor(tmp_path / "donor", channels=channels, arch=arch)
    model = MfccCNN(LABELS, window_frames=50, channels=(4, 8, 8))
    before = _features(model)
    with pytest.raises(TransferError, match=message):
        load_cnn_features(model, donor)
    with pytest.raises(TransferError, match=r"no config\.json"):
        load_cnn_features(model, tmp_path)
    assert all(torch.equal(before[k], v) for k, v in _features(model).items())


def test_a_zero_scale_freezes_the_convolutions_and_a_small_one_slows_them() -> None:
    model = MfccCNN(LABELS, window_frames=50, channels=(4, 8, 8))
    frozen = parameter_groups(model, 1e-3, 0.0)
    assert len(frozen) == 1
    assert all(not p.requires_grad for p in model.features.parameters())
    optimiser = torch.optim.AdamW(frozen, lr=1e-3)
    before, head = _features(model), model.head[1].weight.clone()
    model.train()
    loss = model(torch.randn(4, 50, 40)).logits.logsumexp(-1).sum()
    loss.backward()
    optimiser.step()
    after = {k: v for k, v in _features(model).items() if "running" not in k and "num_" not in k}
    assert all(torch.equal(before[k], v) for k, v in after.items())
    assert not torch.equal(model.head[1].weight, head)

    slow = parameter_groups(MfccCNN(LABELS, window_frames=50, channels=(4, 8, 8)), 1e-3, 0.1)
    assert [g.get("lr") for g in slow] == [None, pytest.approx(1e-4)]
    assert len(parameter_groups(model, 1e-3, 1.0)) == 1


def test_settings_that_mean_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="features_lr_scale"):
        TrainConfig(task="cat-context", arch="ast", features_lr_scale=0.5)
    with pytest.raises(ValueError, match="features_lr_scale"):
        TrainConfig(task="cat-context", arch="mfcc_cnn", features_lr_scale=1.5)
    with pytest.raises(ValueError, match="nothing to start from"):
        TrainConfig(task="cat-context", arch="yamnet_dnn", init_from="ml/weights/cat-emotion")


@pytest.mark.shared
def test_a_frozen_transfer_run_keeps_the_shipped_donors_filters(
    tmp_path: Path, shared_dir: Path
) -> None:
    donor = WEIGHTS_DIR / "cat-emotion"
    donor_channels = json.loads((donor / "config.json").read_text())["model"]["channels"]
    config = TrainConfig(
        task="cat-context",
        arch="mfcc_cnn",
        cnn_channels=list(donor_channels),
        epochs=2,
        epoch_size=64,
        patience=2,
        window_frames=200,
        max_clips_per_class=12,
        init_from=str(donor),
        features_lr_scale=0.0,
        threads=1,
    )
    run = tmp_path / "run"
    train(config, run, shared_dir=shared_dir, cache_dir=tmp_path / "cache", progress=False)
    trained, shipped = load_file(run / WEIGHTS_FILE), load_file(donor / WEIGHTS_FILE)
    convs = [k for k in trained if k.startswith("features.") and k.endswith(".weight")]
    assert convs and all(torch.equal(trained[k], shipped[k]) for k in convs)
    recorded = json.loads((run / "config.json").read_text())["pretrained"]
    assert recorded["donor_model_id"] == sha256_file(donor / WEIGHTS_FILE)


def test_clip_mean_normalisation_removes_what_every_frame_of_a_clip_shares() -> None:
    rng = np.random.default_rng(0)
    clip = rng.standard_normal((120, 40)).astype(np.float32)
    channel = rng.standard_normal(40).astype(np.float32) * 5  # a recording's fixed colouring
    config = TrainConfig(task="cat-context", arch="mfcc_cnn", window_frames=50, clip_mean=True)
    spec = input_spec_for(config, [clip, clip + channel])
    assert spec.clip_mean and np.allclose(spec.mean, 0.0, atol=1e-5)
    assert np.allclose(spec.normalise(clip), spec.normalise(clip + channel), atol=1e-5)
    plain = input_spec_for(TrainConfig(task="cat-context", arch="mfcc_cnn"), [clip, clip + channel])
    assert not np.allclose(plain.normalise(clip), plain.normalise(clip + channel), atol=1e-2)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    old = {k: v for k, v in plain.to_dict().items() if k != "clip_mean"}  # configs before it
    assert InputSpec.from_dict(old).clip_mean is False
    with pytest.raises(ValueError, match="clip_mean"):
        TrainConfig(task="cat-context", arch="ast", clip_mean=True)


def test_the_train_command_refuses_a_donor_of_other_widths_before_training(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from miao.cli import app

    out = tmp_path / "runs"
    args = ["train", "cat-context", "--arch", "mfcc_cnn", "--channels", "8,16,32"]
    result = CliRunner().invoke(
        app, [*args, "--init-from", str(WEIGHTS_DIR / "cat-emotion"), "--out", str(out)]
    )
    assert result.exit_code == 2 and "channels" in result.output, result.output
    result = CliRunner().invoke(app, [*args[:2], "--features-lr-scale", "0.5", "--out", str(out)])
    assert result.exit_code == 2 and "--arch mfcc_cnn" in " ".join(result.output.split())
    assert not out.exists()
