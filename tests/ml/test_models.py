"""The AST labeller and the baselines: shapes, config round trips, windows, clip probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.frontend import LOGMEL_PAD, FrontEnd
from ml.models import (
    ASTClassifier,
    ASTSize,
    MajorityClass,
    MfccCNN,
    YamnetDNN,
    build_model,
    frame_windows,
)
from ml.predict import InputSpec, clip_probabilities

LABELS = ["a", "b", "c"]


def test_ast_is_the_transformers_model_sized_for_cpu() -> None:
    from transformers import ASTForAudioClassification

    model = ASTClassifier(LABELS)
    assert isinstance(model.ast, ASTForAudioClassification)
    cfg = model.ast.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == (4, 192, 3)
    assert cfg.time_stride == cfg.frequency_stride == cfg.patch_size == 16
    assert cfg.id2label == {0: "a", 1: "b", 2: "c"}
    # trained from scratch: position embeddings must not start all-zero (transformers' default)
    emb = model.ast.audio_spectrogram_transformer.embeddings.position_embeddings
    assert emb.abs().sum() > 0
    params = sum(p.numel() for p in model.parameters())
    assert params * 4 < 30e6  # float32 weights well under the 30 MB limit


def test_ast_forward_shapes_and_rejects_wrong_input() -> None:
    model = ASTClassifier(LABELS, ASTSize(layers=1, hidden=32, heads=2, max_length=64)).eval()
    out = model(torch.randn(2, 64, 128))
    assert out.logits.shape == (2, 3)
    assert out.embedding is not None and out.embedding.shape == (2, 32)
    with pytest.raises(ValueError, match="log-mel windows"):
        model(torch.randn(2, 65, 128))


@pytest.mark.parametrize(
    ("model", "x"),
    [
        (
            ASTClassifier(LABELS, ASTSize(layers=1, hidden=32, heads=2, max_length=64)),
            torch.randn(2, 64, 128),
        ),
        (MfccCNN(LABELS, window_frames=64), torch.randn(2, 64, 40)),
        (MfccCNN(LABELS, window_frames=64, channels=(4, 8, 8, 16)), torch.randn(2, 64, 40)),
        (YamnetDNN(LABELS), torch.rand(2, 1042)),
    ],
)
def test_config_round_trip_gives_the_same_function(model: torch.nn.Module, x: torch.Tensor) -> None:
    model.eval()
    rebuilt = build_model(model.config_dict()).eval()  # type: ignore[operator]
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, rebuilt(x).logits)
    assert model(x).logits.shape == (2, 3)


def test_a_deeper_cnn_folds_for_inference_and_too_deep_a_one_is_refused() -> None:
    model = MfccCNN(LABELS, window_frames=50, channels=(4, 4, 8, 8, 16)).eval()
    x = torch.randn(3, 50, 40)
    with torch.no_grad():
        torch.testing.assert_close(model.for_inference()(x).logits, model(x).logits)
    with pytest.raises(ValueError, match="give 1 to 5 widths"):
        MfccCNN(LABELS, window_frames=200, channels=(4,) * 6)
    with pytest.raises(ValueError, match="give 1 to 4 widths"):
        MfccCNN(LABELS, window_frames=16, channels=(4,) * 5)
    from ml.train import TrainConfig

    with pytest.raises(ValueError, match="6 CNN blocks"):
        TrainConfig(task="dog-bark", arch="mfcc_cnn", cnn_channels=[4] * 6)
    assert TrainConfig(task="dog-bark", arch="ast", cnn_channels=[4] * 6).arch == "ast"


def test_build_model_rejects_unknown_arch() -> None:
    with pytest.raises(ValueError, match="unknown model arch"):
        build_model({"arch": "resnet", "labels": LABELS})


def test_baselines_reject_wrong_feature_shapes() -> None:
    with pytest.raises(ValueError, match="MFCC"):
        MfccCNN(LABELS)(torch.randn(2, 64, 128))
    with pytest.raises(ValueError, match="YAMNet"):
        YamnetDNN(LABELS)(torch.randn(2, 521))


def test_majority_class() -> None:
    baseline = MajorityClass(LABELS).fit(["b", "a", "b", "c", "b"])
    assert baseline.predict(3) == ["b", "b", "b"]
    with pytest.raises(ValueError):
        MajorityClass(LABELS).fit([])


def test_frame_windows_pad_short_and_cover_the_end_of_long_clips() -> None:
    short = torch.arange(10 * 2, dtype=torch.float32).reshape(10, 2)
    w = frame_windows(short, 16, pad_value=-1.0)
    assert w.shape == (1, 16, 2)
    assert torch.equal(w[0, :10], short) and bool((w[0, 10:] == -1).all())

    long = torch.arange(50, dtype=torch.float32).reshape(50, 1)
    w = frame_windows(long, 16)  # hop 8: starts 0, 8, 16, 24, 32 and the end-aligned 34
    assert w.shape == (6, 16, 1)
    assert w[-1, -1, 0] == 49 and w[0, 0, 0] == 0


def test_clip_probabilities_average_the_windows() -> None:
    torch.manual_seed(0)
    model = ASTClassifier(LABELS, ASTSize(layers=1, hidden=32, heads=2, max_length=32)).eval()
    spec = InputSpec("logmel", 32, 16)
    clip = np.random.default_rng(0).normal(size=(70, 128)).astype(np.float32)
    short = np.random.default_rng(1).normal(size=(12, 128)).astype(np.float32)
    probs = clip_probabilities(model, [clip, short], spec)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    with torch.no_grad():
        windows = frame_windows(torch.from_numpy(clip), 32, 16, pad_value=LOGMEL_PAD)
        expected = torch.softmax(model(windows).logits, -1).mean(0).numpy()
    np.testing.assert_allclose(probs[0], expected, rtol=1e-5, atol=1e-6)


def test_band_limited_front_end_removes_energy_above_4khz() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    low = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    limited = FrontEnd(band_limit_hz=4000)
    assert np.abs(limited.condition(tone)[800:-800]).max() < 0.01  # 6 kHz is gone (edges aside)
    assert np.abs(limited.condition(low)).max() > 0.45  # 1 kHz passes
    full = FrontEnd().features(tone)
    cut = limited.features(tone)
    assert full.shape == cut.shape and full.shape[1] == 128
    assert full[:, 100:].mean() > cut[:, 100:].mean() + 0.5  # the top mel bins lost the tone
