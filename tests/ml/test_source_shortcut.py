"""The ``source`` model must hear the sound, not the clip's length or its padding.

The first shipped ``source`` model called 2 s of white noise and 2-5 s of digital silence
``cat`` (spoken digits are all short, so "long and unlike a cry" had become "cat"). These tests
fail on those weights (id ``1c61a765…``). The helpers that take the shortcut away in training
(random-length crops padded alike for every class, gain jitter, synthetic negatives) are tested
here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.models import frame_windows
from ml.negatives import NEGATIVE_KINDS, negative_wave, negative_waves
from ml.predict import InputSpec
from ml.registry import load_labeller, shipped_tasks
from ml.train import LENGTH_GUARD, TrainConfig, training_window

needs_source = pytest.mark.skipif(
    "source" not in shipped_tasks(),
    reason="no shipped source weights in ml/weights/source (run miao eval source --ship)",
)

LENGTHS_S = (0.3, 0.5, 1.0, 2.0, 3.0, 5.0)


@needs_source
@pytest.mark.parametrize("kind", ["white", "silence"])
def test_noise_and_silence_are_not_called_cat_at_any_length(kind: str) -> None:
    labeller = load_labeller("source")
    rng = np.random.default_rng(20_261_128)
    waves = [negative_wave(kind, s, rng) for s in LENGTHS_S for _ in range(2)]
    labels = [p.label for p in labeller.predict_many(waves)]
    called_cat = [
        float(s) for s, label in zip(np.repeat(LENGTHS_S, 2), labels, strict=True) if label == "cat"
    ]
    assert not called_cat, f"{kind} called cat at {called_cat} s: {labels}"


@needs_source
def test_loud_white_noise_is_other() -> None:
    """Full-scale white noise (-10 dBFS), 2 s: the old model's favourite 'cat'."""
    rng = np.random.default_rng(7)
    wave = (rng.standard_normal(32_000) * 10 ** (-10 / 20)).astype(np.float32)
    prediction = load_labeller("source").predict(wave)
    assert prediction.label == "other", prediction.probabilities


def test_negatives_cover_every_kind_at_the_asked_lengths() -> None:
    bank = negative_waves(14, seed=3, min_seconds=0.3, max_seconds=6.0)
    assert sorted({kind for kind, _ in bank}) == sorted(NEGATIVE_KINDS)
    for kind, wave in bank:
        assert wave.dtype == np.float32
        assert 0.3 * 16_000 - 1 <= wave.size <= 6.0 * 16_000 + 1
        assert np.abs(wave).max() < 1.0
        if kind == "silence":
            assert not wave.any()
        else:
            assert wave.std() > 0
    again = negative_waves(14, seed=3)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(bank, again, strict=True))


def test_negative_wave_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown negative kind"):
        negative_wave("thunder", 1.0, rng)
    with pytest.raises(ValueError, match="positive"):
        negative_wave("white", 0.0, rng)


def test_crops_make_padding_independent_of_the_clip_length() -> None:
    """With crop_p=1 a long clip's windows are padded as often and as much as a short clip's."""
    rng = np.random.default_rng(0)
    long_clip = rng.normal(size=(700, 40)).astype(np.float32) + 3.0  # 7 s, never padded before
    padded = []
    for _ in range(400):
        window = training_window(long_clip, 200, 0.0, rng, crop_p=1.0)
        assert window.shape == (200, 40)
        padded.append(int(np.sum(np.all(window == 0.0, axis=1))))
    padded_arr = np.asarray(padded)
    assert (padded_arr > 100).mean() > 0.4  # many windows are mostly padding, like a digit's
    assert (padded_arr < 50).mean() > 0.1  # and some are nearly whole
    no_crop = training_window(long_clip, 200, 0.0, rng, crop_p=0.0)
    assert not np.all(no_crop == 0.0, axis=1).any()


def test_gain_moves_the_sound_not_the_padding() -> None:
    rng = np.random.default_rng(1)
    short = np.ones((50, 40), dtype=np.float32)
    window = training_window(short, 200, 0.0, rng, crop_p=0.0, gain=0.5, kind="mfcc")
    sound = ~np.all(window == 0.0, axis=1)
    assert sound.sum() == 50
    assert np.allclose(window[sound, 0], 1.5) and np.allclose(window[sound, 1:], 1.0)


def test_source_trains_with_the_length_guard_by_default() -> None:
    config = TrainConfig(task="source", arch="mfcc_cnn")
    assert config.crop_p == LENGTH_GUARD["source"]["crop_p"] > 0
    assert config.synthetic_negatives and config.fill == "tile"
    assert TrainConfig(task="cat-emotion", arch="mfcc_cnn").synthetic_negatives == 0
    with pytest.raises(ValueError, match="negative label"):
        TrainConfig(task="cat-emotion", arch="mfcc_cnn", synthetic_negatives=10)


def test_tiled_windows_hold_only_the_sound() -> None:
    """fill="tile": a 0.3 s clip fills its window with itself, at inference as in training."""
    feats = torch.arange(30 * 4, dtype=torch.float32).reshape(30, 4)
    tiled = frame_windows(feats, 200, 200, pad_value=-1.0, fill="tile")
    assert tiled.shape == (1, 200, 4)
    assert torch.equal(tiled[0, :30], feats) and torch.equal(tiled[0, 30:60], feats)
    assert not (tiled == -1.0).any()
    padded = frame_windows(feats, 200, 200, pad_value=-1.0)
    assert (padded[0, 30:] == -1.0).all()
    rng = np.random.default_rng(2)
    window = training_window(feats.numpy(), 200, -1.0, rng, fill="tile")
    assert window.shape == (200, 4) and not (window == -1.0).any()
    with pytest.raises(ValueError, match="fill"):
        frame_windows(feats, 200, fill="mirror")


def test_configs_written_before_fill_still_pad() -> None:
    old = {"kind": "mfcc", "window_frames": 200, "hop_frames": 200, "mean": [], "std": []}
    assert InputSpec.from_dict(old).fill == "pad"
    assert InputSpec.from_dict({**old, "fill": "tile"}).fill == "tile"
    assert TrainConfig(task="source", arch="mfcc_cnn").fill == "tile"


@needs_source
@pytest.mark.shared
@pytest.mark.slow
def test_short_crops_of_real_cats_stay_cat(shared_dir: Path) -> None:
    """0.3 s and 1 s around the loudest part of validation cats: still cat (old model: 0.3 s
    crops were all human_speech). 40 clips of the seeded validation split."""
    from ml.audio import load_audio
    from ml.preprocess import loudest_crop
    from ml.train import make_split

    split = make_split("source", 0, shared_dir)
    cats = [c.path for c in split.val if c.label == "cat"]
    picked = np.random.default_rng(5).choice(len(cats), size=40, replace=False)
    waves = [load_audio(cats[i]) for i in sorted(picked)]
    labeller = load_labeller("source")
    for seconds, floor in ((0.3, 0.6), (1.0, 0.7)):
        crops = [c for c in (loudest_crop(w, seconds) for w in waves) if c is not None]
        labels = [p.label for p in labeller.predict_many(crops)]
        rate = labels.count("cat") / len(labels)
        assert rate >= floor, f"{seconds} s crops called cat {rate:.2f}: {labels}"
