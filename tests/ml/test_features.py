"""The torch log-mel front end against transformers' ASTFeatureExtractor, and the other features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import ASTFeatureExtractor

from ml.features import (
    ASTLogMel,
    LogMelConfig,
    ast_features,
    frames_for_seconds,
    mfcc,
    stack_waves,
    stft_image,
    to_feature_extractor,
)

# transformers warns that 128 Kaldi filters leave one empty; that is AST's own set-up.
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")


def waves(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(40000) / 16000
    chirp = (0.5 * np.sin(2 * np.pi * (200 + 2000 * t) * t)).astype(np.float32)
    return [
        chirp,
        (0.1 * rng.standard_normal(16000)).astype(np.float32),
        (0.05 * rng.standard_normal(170000)).astype(np.float32),  # longer than max_length
        (0.3 * rng.standard_normal(3000)).astype(np.float32),
        np.zeros(8000, dtype=np.float32),  # digital silence hits the log floor
    ]


@pytest.mark.parametrize("max_length", [1024, 512, 128])
def test_batched_log_mel_matches_ast_feature_extractor(max_length: int) -> None:
    clips = waves()
    reference = ASTFeatureExtractor(max_length=max_length)
    ours = ast_features(clips, LogMelConfig(max_length=max_length)).numpy()
    assert ours.shape == (len(clips), max_length, 128)
    for row, clip in enumerate(clips):
        expected = reference(clip, sampling_rate=16000, return_tensors="np")["input_values"][0]
        # float32 compute: differences sit in near-silent bins (see ASTLogMel's docstring).
        assert np.abs(ours[row] - expected).max() < 1e-2
        assert np.abs(ours[row] - expected).mean() < 1e-4


def test_float64_log_mel_matches_extractor_to_rounding() -> None:
    clips = waves(3)
    extractor = ASTLogMel(LogMelConfig(max_length=512), dtype=torch.float64)
    batch, lengths = stack_waves(clips)
    ours = extractor(batch, lengths).numpy()
    reference = ASTFeatureExtractor(max_length=512)
    for row, clip in enumerate(clips):
        expected = reference(clip, sampling_rate=16000, return_tensors="np")["input_values"][0]
        assert np.abs(ours[row] - expected).max() < 1e-4


def test_custom_normalisation_matches_extractor() -> None:
    config = LogMelConfig(max_length=200, mean=-6.0, std=3.0)
    clip = waves(1)[0]
    expected = to_feature_extractor(config)(clip, sampling_rate=16000, return_tensors="np")
    ours = ast_features(clip, config).numpy()
    assert np.abs(ours - expected["input_values"][0]).max() < 1e-2


def test_batch_equals_one_at_a_time_and_padding_is_the_extractors() -> None:
    clips = waves(2)
    config = LogMelConfig(max_length=300)
    batch = ast_features(clips, config)
    for row, clip in enumerate(clips):
        assert torch.allclose(batch[row], ast_features(clip, config), atol=1e-5)
    frames = frames_for_seconds(len(clips[1]) / 16000)
    assert frames == 98
    assert torch.allclose(
        batch[1, frames:], torch.full_like(batch[1, frames:], config.padding_value)
    )
    assert not torch.allclose(
        batch[1, :frames], torch.full_like(batch[1, :frames], config.padding_value)
    )


def test_mfcc_shape_and_content() -> None:
    clip = waves()[0]
    coefficients = mfcc(clip, n_mfcc=20)
    assert coefficients.shape == (20, 1 + len(clip) // 160)
    assert np.isfinite(coefficients).all()
    # A chirp and white noise have different spectral envelopes.
    assert not np.allclose(coefficients.mean(axis=1), mfcc(waves()[1], n_mfcc=20).mean(axis=1))


def test_stft_image_writes_a_png(tmp_path: Path) -> None:
    path = stft_image(waves()[0], tmp_path / "sub" / "spec.png", title="chirp")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
