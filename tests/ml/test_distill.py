"""Knowledge distillation from the YAMNet teacher into the MFCC-CNN.

The student gets a second head that learns YAMNet's pooled clip scores; labelling uses the first
head only, so a distilled model loads and labels like any other. The training test runs a short
real distilled run on dog-bark and checks the second head learnt something clip-specific from the
teacher: on validation clips it never trained on, its guesses at the teacher's scores beat the
best constant guess (the training clips' mean scores) on the outputs that tell clips apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.data import read_split
from ml.feature_cache import cached_features
from ml.models import ASTClassifier, ASTSize, MfccCNN, build_model
from ml.predict import clip_windows
from ml.registry import load_model_dir
from ml.train import TEACHER_OUTPUTS, TrainConfig, cap_per_class, train


def test_distillation_is_refused_where_there_is_nothing_to_distil() -> None:
    with pytest.raises(ValueError, match="nothing to distil"):
        TrainConfig(task="dog-bark", arch="yamnet_dnn", distill_weight=1.0)
    with pytest.raises(ValueError, match="distill_weight must be >= 0"):
        TrainConfig(task="dog-bark", arch="mfcc_cnn", distill_weight=-1.0)
    with pytest.raises(ValueError, match="cnn_channels"):
        TrainConfig(task="dog-bark", arch="mfcc_cnn", cnn_channels=[16, 0, 64])


def test_teacher_head_round_trips_through_its_config() -> None:
    torch.manual_seed(0)
    model = MfccCNN(["bark", "non_bark"], window_frames=100, channels=[8, 8, 8], teacher_outputs=7)
    rebuilt = build_model(model.config_dict())
    rebuilt.load_state_dict(model.state_dict())  # strict: the teacher head is there too
    x = torch.randn(3, 100, 40)
    model.eval()
    rebuilt.eval()
    out, again = model(x), rebuilt(x)
    assert out.teacher_logits is not None and out.teacher_logits.shape == (3, 7)
    assert torch.equal(out.logits, again.logits)
    ast = ASTClassifier(
        ["bark", "non_bark"], ASTSize(layers=1, hidden=32, heads=2, max_length=100), 7
    )
    ast_again = build_model(ast.config_dict())
    ast_again.load_state_dict(ast.state_dict())
    ast.eval()
    ast_again.eval()
    logmel = torch.randn(2, 100, 128)
    out_ast = ast(logmel)
    assert out_ast.teacher_logits is not None and out_ast.teacher_logits.shape == (2, 7)
    assert torch.equal(out_ast.teacher_logits, ast_again(logmel).teacher_logits)
    plain = MfccCNN(["bark", "non_bark"], window_frames=100, channels=[8, 8, 8])
    assert plain(x).teacher_logits is None
    assert "teacher_head.weight" not in plain.state_dict()


@pytest.mark.shared
@pytest.mark.slow
def test_a_distilled_run_learns_the_teachers_scores(tmp_path: Path, shared_dir: Path) -> None:
    if not (shared_dir / "models" / "yamnet" / "yamnet.tflite").is_file():
        pytest.skip(f"no YAMNet model (the teacher) at {shared_dir}/models/yamnet")
    config = TrainConfig(
        task="dog-bark",
        arch="mfcc_cnn",
        epochs=16,
        batch_size=16,
        epoch_size=192,
        warmup_epochs=1,
        patience=8,
        window_frames=100,
        max_clips_per_class=30,
        cnn_channels=[16, 32, 64],
        distill_weight=20.0,
        threads=1,
    )
    cache = tmp_path / "cache"
    result = train(config, tmp_path / "run", shared_dir=shared_dir, cache_dir=cache, progress=False)
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["training"]["distill_weight"] == 20.0
    assert saved["model"]["teacher_outputs"] == TEACHER_OUTPUTS

    model, _, spec = load_model_dir(result.run_dir)
    split = read_split(result.run_dir / "split.csv", shared_dir)
    assert split is not None
    parts = {
        "train": [c.path for c in cap_per_class(split.train, 30, config.seed)],
        "val": [c.path for c in split.val],
    }

    def teacher(paths: list[Path]) -> np.ndarray:
        scores = cached_features(paths, config.teacher_front_end, cache)
        return np.clip(np.stack(scores)[:, :TEACHER_OUTPUTS], 0, 1)

    def student(paths: list[Path]) -> np.ndarray:
        rows = []
        with torch.inference_mode():
            for feats in cached_features(paths, config.front_end, cache):
                windows = clip_windows(feats, spec)
                rows.append(torch.sigmoid(model(windows).teacher_logits).mean(0).numpy())
        return np.stack(rows)

    def bce(guess: np.ndarray, target: np.ndarray) -> float:
        guess = np.clip(guess, 1e-6, 1 - 1e-6)
        return float(-(target * np.log(guess) + (1 - target) * np.log(1 - guess)).mean())

    # judged on the 20 teacher outputs that vary most across the training clips: most of the
    # 1,042 are near zero for every clip and would drown the comparison
    train_teacher = teacher(parts["train"])
    telling = np.argsort(train_teacher.var(0))[-20:]
    val_teacher = teacher(parts["val"])[:, telling]
    constant = np.broadcast_to(train_teacher.mean(0)[telling], val_teacher.shape)
    guess = student(parts["val"])[:, telling]
    learnt, baseline = bce(guess, val_teacher), bce(constant, val_teacher)
    assert learnt < baseline, f"student {learnt:.4f} vs constant guess {baseline:.4f}"


def test_train_command_refuses_bad_widths_before_training(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from miao.cli import app

    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app, ["train", "dog-bark", "--arch", "mfcc_cnn", "--channels", "16,x", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "--channels takes widths" in result.output
    assert not out.exists()  # nothing half-made
    result = CliRunner().invoke(
        app, ["train", "dog-bark", "--arch", "yamnet_dnn", "--distill", "5", "--out", str(out)]
    )
    assert result.exit_code == 2 and "nothing to distil" in result.output, result.output
    assert not out.exists()
    result = CliRunner().invoke(
        app, ["train", "dog-bark", "--arch", "mfcc_cnn", "--labels-from-teacher", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "--labels-from-teacher is for --arch mfcc_cnn with --distill" in result.output
    assert not out.exists()


def test_labels_from_teacher_train_the_convolutions_only_through_the_teacher() -> None:
    """With ``labels_from_teacher`` the label loss reaches the label perceptron and stops at the
    teacher scores; the teacher loss still trains the convolutions. Without it, the label loss
    trains the convolutions (the check that the first assertion can fail)."""
    torch.manual_seed(0)
    x = torch.randn(4, 100, 40)
    target = torch.tensor([0, 1, 0, 1])
    student = MfccCNN(
        ["bark", "non_bark"],
        window_frames=100,
        channels=[8, 8],
        teacher_outputs=7,
        labels_from_teacher=True,
    )
    label_loss = torch.nn.functional.cross_entropy(student(x).logits, target)
    label_loss.backward()
    conv = student.features[0][0].weight
    assert conv.grad is None or not conv.grad.any()
    assert student.head[0].weight.grad is not None and student.head[0].weight.grad.any()
    student.zero_grad()
    torch.sigmoid(student(x).teacher_logits).sum().backward()
    assert conv.grad is not None and conv.grad.any()

    plain = MfccCNN(["bark", "non_bark"], window_frames=100, channels=[8, 8], teacher_outputs=7)
    torch.nn.functional.cross_entropy(plain(x).logits, target).backward()
    assert plain.features[0][0].weight.grad is not None and plain.features[0][0].weight.grad.any()

    rebuilt = build_model(student.config_dict())
    rebuilt.load_state_dict(student.state_dict())  # strict: the perceptron head is the same shape
    student.eval()
    rebuilt.eval()
    assert torch.equal(student(x).logits, rebuilt(x).logits)
    assert "labels_from_teacher" not in plain.config_dict()  # shipped configs stay as they were


def test_labels_from_teacher_needs_a_teacher() -> None:
    with pytest.raises(ValueError, match="needs the teacher head"):
        MfccCNN(["bark", "non_bark"], window_frames=100, labels_from_teacher=True)
    with pytest.raises(ValueError, match="labels_from_teacher is for an mfcc_cnn that distils"):
        TrainConfig(task="dog-bark", arch="mfcc_cnn", labels_from_teacher=True)
    with pytest.raises(ValueError, match="labels_from_teacher is for an mfcc_cnn that distils"):
        TrainConfig(task="dog-bark", arch="ast", distill_weight=1.0, labels_from_teacher=True)
    with pytest.raises(ValueError, match="sound-kind head would train the convolutions"):
        TrainConfig(
            task="dog-bark",
            arch="mfcc_cnn",
            distill_weight=1.0,
            labels_from_teacher=True,
            sound_kind_weight=1.0,
        )
