"""Self-supervised masked-patch pretraining of the AST, and fine-tuning from its encoder.

Unit tests check the patch bookkeeping against the ``transformers`` patch embedding itself (a
wrong token order would teach the head to rebuild the wrong patch). The run test pretrains on a
small real subset and checks the encoder learnt something: on held-out clips it rebuilds
blanked patches better than answering the mean does. The fine-tune test checks the encoder
really is the AST's starting point, and the refusals that keep a task's evaluation audio out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from miao.cli import app
from ml.models import ASTClassifier, ASTSize
from ml.predict import InputSpec
from ml.pretrain import (
    ENCODER_FILE,
    MaskedPatchModel,
    PretrainConfig,
    PretrainMismatch,
    load_encoder,
    masked_batch,
    pretrain,
    pretraining_clips,
    random_masks,
)
from ml.train import TrainConfig, make_split, train

TINY = {"layers": 1, "hidden": 32, "heads": 2, "patch": 16, "stride": 16, "dropout": 0.0}


def test_patch_order_is_the_ast_token_order() -> None:
    model = MaskedPatchModel(ASTSize(**TINY, max_length=100))
    n_freq, n_time = model.grid
    assert (n_freq, n_time) == (8, 6)
    embed = model.backbone.embeddings.patch_embeddings
    for f, t in ((0, 0), (3, 5), (7, 1)):
        window = torch.zeros(1, 100, 128)
        window[0, t * 16 : (t + 1) * 16, f * 16 : (f + 1) * 16] = torch.randn(16, 16)
        tokens = embed(window) - embed(torch.zeros(1, 100, 128))  # the conv bias cancels
        moved = tokens.abs().sum(-1)[0].nonzero().flatten().tolist()
        patches = model.patchify(window).abs().sum(-1)[0].nonzero().flatten().tolist()
        assert moved == patches == [f * n_time + t]


def test_blank_zeroes_exactly_the_masked_patches() -> None:
    model = MaskedPatchModel(ASTSize(**TINY, max_length=100))
    window = torch.randn(2, 100, 128) + 3.0
    mask = random_masks(2, 48, 0.5, np.random.default_rng(0))
    assert mask.sum(1).tolist() == [24, 24]
    blanked = model.patchify(model.blank(window, mask))
    original = model.patchify(window)
    assert torch.all(blanked[mask] == 0)
    assert torch.equal(blanked[~mask], original[~mask])


def test_config_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="mask_ratio"):
        PretrainConfig(task="cat-emotion", mask_ratio=1.0)
    with pytest.raises(ValueError, match="unknown task"):
        PretrainConfig(task="parrots")
    with pytest.raises(ValueError, match="nothing to start from"):
        TrainConfig(task="cat-emotion", arch="yamnet_dnn", init_from="somewhere")
    with pytest.raises(ValueError, match="fill"):
        PretrainConfig(task="source", fill="mirror")


@pytest.mark.parametrize("task", ["source", "cat-emotion", "dog-bark"])
def test_pretraining_fills_short_clips_as_the_tasks_fine_tune_does(task: str) -> None:
    """``source`` tiles short clips in training and labelling, so its encoder must learn tiled
    windows; the padding tasks' encoders learn padded ones."""
    config = PretrainConfig(task=task, batch_size=4, epoch_size=4)
    assert config.fill == TrainConfig(task=task).fill
    short = np.random.default_rng(1).normal(size=(30, 128)).astype(np.float32)
    spec = InputSpec("logmel", 100, 100)
    windows, _ = masked_batch([short], config, spec, 48, np.random.default_rng(0))
    padded = (windows == spec.pad_value).all(-1).sum(1)  # frames that are all padding
    if config.fill == "tile":
        assert padded.tolist() == [0, 0, 0, 0]
        rows = {tuple(np.round(r, 4)) for r in short}
        assert all(tuple(np.round(r, 4)) in rows for r in windows[0].numpy())
    else:
        assert padded.tolist() == [70, 70, 70, 70]


@pytest.mark.shared
def test_pretraining_leaves_out_the_tasks_evaluation_groups(shared_dir: Path) -> None:
    clips = pretraining_clips("cat-emotion", 0, shared_dir)
    split = make_split("cat-emotion", 0, shared_dir)
    held_out = {c.group for c in (*split.val, *split.test)}
    assert clips and not {c.group for c in clips} & held_out
    assert len({c.path for c in clips}) == len(clips)
    # every dataset the tasks read is there, not only the task's own
    assert {"naya", "speech-fsdd", "donateacry", "catmeows"} <= {c.dataset for c in clips}


@pytest.mark.shared
@pytest.mark.slow
def test_pretraining_learns_and_fine_tuning_starts_from_it(
    tmp_path: Path, shared_dir: Path
) -> None:
    size = {**TINY, "layers": 2, "hidden": 64}
    config = PretrainConfig(
        task="dog-bark",
        epochs=6,
        epoch_size=256,
        batch_size=16,
        lr=1e-3,
        window_frames=100,
        ast_size=size,
        max_clips=120,
        threads=1,
    )
    cache = tmp_path / "cache"
    result = pretrain(
        config, tmp_path / "pre", shared_dir=shared_dir, cache_dir=cache, progress=False
    )
    last = result.history[-1]
    # better than a guess that knows each window's level but nothing of its patterns
    assert last["monitor_loss"] < 0.9 * result.visible_mean_loss, result.history
    assert result.visible_mean_loss < result.mean_predictor_loss
    assert last["train_loss"] < result.history[0]["train_loss"]
    info = json.loads((tmp_path / "pre" / "pretrain.json").read_text())
    assert info["config"]["task"] == "dog-bark" and info["encoder_id"] == result.encoder_id

    fine = TrainConfig(
        task="dog-bark",
        arch="ast",
        epochs=1,
        batch_size=16,
        epoch_size=32,
        window_frames=100,
        ast_size=size,
        max_clips_per_class=10,
        init_from=str(tmp_path / "pre"),
        threads=1,
    )
    # epochs=1 with one warm-up epoch: the learning rate is tiny, so the encoder moves little
    run = train(fine, tmp_path / "fine", shared_dir=shared_dir, cache_dir=cache, progress=False)
    saved = json.loads((run.run_dir / "config.json").read_text())
    assert saved["pretrained"]["encoder_id"] == result.encoder_id
    encoder = load_file(str(tmp_path / "pre" / ENCODER_FILE))
    tuned = load_file(str(run.run_dir / "model.safetensors"))
    key = "embeddings.position_embeddings"
    start = encoder[key]
    fresh = ASTClassifier(["bark", "non_bark"], ASTSize(**size, max_length=100))
    from_scratch = fresh.ast.audio_spectrogram_transformer.state_dict()[key]
    after = tuned[f"ast.audio_spectrogram_transformer.{key}"]
    assert (after - start).abs().mean() < 0.1 * (after - from_scratch).abs().mean()

    # refused for another task (it may have heard that task's test audio) or another size
    other = ASTClassifier(["cat", "dog"], ASTSize(**size, max_length=100))
    with pytest.raises(PretrainMismatch, match="pretrained for 'dog-bark'"):
        load_encoder(other, tmp_path / "pre", "source")
    with pytest.raises(PretrainMismatch, match="split seed 0, not 1"):
        load_encoder(fresh, tmp_path / "pre", "dog-bark", split_seed=1)
    with pytest.raises(PretrainMismatch, match="balanced by label, not source_label"):
        load_encoder(fresh, tmp_path / "pre", "dog-bark", split_strata="source_label")
    bigger = ASTClassifier(["bark", "non_bark"], ASTSize(**{**size, "hidden": 32}, max_length=100))
    with pytest.raises(PretrainMismatch, match="AST size"):
        load_encoder(bigger, tmp_path / "pre", "dog-bark")
    with pytest.raises(PretrainMismatch, match="short clips padded, the fine-tune has them tiled"):
        load_encoder(fresh, tmp_path / "pre", "dog-bark", fill="tile")


def _flat(text: str) -> str:
    """Console output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def test_train_command_refuses_an_encoder_before_training(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    result = CliRunner().invoke(
        app, ["train", "dog-bark", "--init-from", str(not_a_run), "--out", str(out)]
    )
    assert result.exit_code == 2 and "not a pretraining run" in _flat(result.output), result.output
    result = CliRunner().invoke(
        app,
        [
            "train",
            "dog-bark",
            "--arch",
            "mfcc_cnn",
            "--init-from",
            str(not_a_run),
            "--out",
            str(out),
        ],
    )
    # for the CNN, the folder must be a trained CNN to take convolutions from
    assert result.exit_code == 2 and "no config.json" in _flat(result.output), result.output
    result = CliRunner().invoke(
        app,
        ["train", "dog-bark", "--arch", "all", "--init-from", str(not_a_run), "--out", str(out)],
    )
    assert result.exit_code == 2 and "--init-from is for one arch" in _flat(result.output)
    assert not out.exists()


def test_pretrain_command_has_help_and_refuses_bad_input() -> None:
    result = CliRunner().invoke(app, ["pretrain", "--help"])
    assert result.exit_code == 0 and "validation and test" in result.output
    result = CliRunner().invoke(app, ["pretrain", "cat-emotion", "--mask-ratio", "1.5"])
    assert result.exit_code == 2 and "mask_ratio" in _flat(result.output), result.output
