"""Waveform and feature augmentation: they change what they should, keep what they must."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.audio import ffmpeg_available
from ml.augment import (
    AUG_PRESETS,
    PHONE_CODECS,
    WaveAugment,
    WaveAugmentConfig,
    background_noise_files,
    mixup,
    phone_channel,
    spec_augment,
)
from ml.data import group_split, manifest_clips


def tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(round(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 600 * t)).astype(np.float32)


def test_wave_augment_is_seeded_keeps_length_and_range() -> None:
    config = WaveAugmentConfig(time_stretch_p=1.0, pitch_shift_p=1.0, gain_p=1.0, band_limit_p=0.0)
    first, second = WaveAugment(config=config, seed=7), WaveAugment(config=config, seed=7)
    clip = tone()
    outputs = [first(clip) for _ in range(3)]
    assert all(np.array_equal(a, second(clip)) for a in outputs)
    assert all(len(o) == len(clip) and o.dtype == np.float32 for o in outputs)
    assert all(np.abs(o).max() <= 1.0 for o in outputs)
    assert not np.allclose(outputs[0], clip, atol=1e-3)
    assert not np.array_equal(outputs[0], outputs[1])  # a fresh draw per call


def test_band_limit_removes_the_upper_band() -> None:
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(32000)).astype(np.float32)
    config = WaveAugmentConfig(time_stretch_p=0, pitch_shift_p=0, gain_p=0, band_limit_p=1.0)
    out = WaveAugment(config=config, seed=0)(noise)
    spectrum = np.abs(np.fft.rfft(out)) ** 2
    hz = np.fft.rfftfreq(len(out), 1 / 16000)
    assert spectrum[hz > 4500].sum() < 1e-3 * spectrum[hz < 3500].sum()


needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="the ffmpeg program is missing")


@needs_ffmpeg
@pytest.mark.parametrize("codec", sorted(PHONE_CODECS))
def test_a_phone_channel_keeps_the_call_and_loses_what_a_phone_loses(codec: str) -> None:
    t = np.arange(32000) / 16000
    call = (0.3 * np.sin(2 * np.pi * 600 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    out = phone_channel(call + high, codec)
    assert out.shape == call.shape and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out)) ** 2
    hz = np.fft.rfftfreq(len(out), 1 / 16000)
    # 8 kHz sampling: the 6 kHz tone is gone, the 600 Hz call is kept
    assert spectrum[hz > 4500].sum() < 1e-3 * spectrum[(hz > 500) & (hz < 700)].sum()
    assert np.corrcoef(out[1000:-1000], call[1000:-1000])[0, 1] > 0.85
    assert not np.allclose(out, call, atol=1e-3)  # the codec left its marks


@needs_ffmpeg
def test_the_phone_preset_runs_every_copy_through_a_seeded_codec() -> None:
    clip = tone()
    first = WaveAugment(config=AUG_PRESETS["phone"], seed=3)
    second = WaveAugment(config=AUG_PRESETS["phone"], seed=3)
    outputs = [first(clip) for _ in range(4)]
    assert all(np.array_equal(a, second(clip)) for a in outputs)
    assert all(not np.allclose(o, clip, atol=1e-3) for o in outputs)


def band_gains_db(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Level change in octave bands from 125 Hz to 4 kHz (dB)."""
    from scipy.signal import welch

    hz, p_before = welch(before, 16000, nperseg=2048)
    _, p_after = welch(after, 16000, nperseg=2048)
    bands = [(hz >= lo) & (hz < 2 * lo) for lo in 125 * 2.0 ** np.arange(6)]
    return np.array([10 * np.log10(p_after[b].sum() / p_before[b].sum()) for b in bands])


def test_the_eq_colours_each_copy_differently_within_its_range() -> None:
    noise = (0.05 * np.random.default_rng(1).standard_normal(32000)).astype(np.float32)
    eq_only = WaveAugmentConfig(
        time_stretch_p=0, pitch_shift_p=0, gain_p=0, noise_p=0, band_limit_p=0, eq_p=1.0
    )
    augment = WaveAugment(config=eq_only, seed=5)
    gains = [band_gains_db(noise, augment(noise)) for _ in range(4)]
    # a device's response: some band moved by dB, not a plain gain, and another one per copy
    assert all(np.ptp(g) > 3.0 for g in gains)
    assert not np.allclose(gains[0], gains[1], atol=1.0)
    # seven bands of at most ±9 dB each can stack, but not without limit
    assert all(np.abs(g).max() < 2 * eq_only.eq_gain_db for g in gains)
    assert np.array_equal(
        WaveAugment(config=eq_only, seed=5)(noise), WaveAugment(config=eq_only, seed=5)(noise)
    )


def test_phone_channel_and_presets_refuse_what_they_do_not_know() -> None:
    from ml.train import TrainConfig

    with pytest.raises(ValueError, match="unknown phone codec 'amr'"):
        phone_channel(tone(), "amr")
    with pytest.raises(ValueError, match="aug_preset"):
        TrainConfig(task="source", aug_preset="radio")


@pytest.mark.shared
def test_background_noise_comes_from_noise_other_and_skips_held_out_groups(
    shared_dir: Path,
) -> None:
    files = background_noise_files(shared_dir)
    assert len(files) > 100 and all("noise_other" in str(f) for f in files)
    assert not any("baby_" in str(f) for f in files)
    noise_clips = manifest_clips("noise_other", shared_dir)
    held_out = group_split(noise_clips, seed=0).test
    kept = set(background_noise_files(shared_dir, exclude=held_out))
    held_groups = {c.group for c in held_out}
    assert kept and not any(c.path in kept for c in noise_clips if c.group in held_groups)

    config = WaveAugmentConfig(time_stretch_p=0, pitch_shift_p=0, gain_p=0, noise_p=1.0)
    clip = tone()
    noisy = WaveAugment(files, config=config, seed=1)(clip)
    residual = noisy - clip
    snr_db = 10 * np.log10(np.mean(clip**2) / np.mean(residual**2))
    assert 4.0 <= snr_db <= 26.0  # within the configured 5-25 dB (peak normalisation aside)


def test_spec_augment_masks_bands_and_spans_within_lengths() -> None:
    features = torch.randn(8, 200, 128) + 5.0  # nothing is 0 before masking
    lengths = torch.tensor([200, 150, 100, 50, 200, 200, 30, 10])
    masked = spec_augment(features, np.random.default_rng(0), lengths=lengths)
    assert masked.shape == features.shape and not torch.equal(masked, features)
    assert torch.equal(features, features.clone())  # input untouched
    zero = masked == 0
    full_band = zero.all(dim=1)  # frequency bins masked over all time
    assert full_band.any(dim=1).sum() >= 4
    # Time masks never fall past a row's valid frames: there, only whole bands are zero.
    for row, n in enumerate(lengths.tolist()):
        tail = zero[row, n:]
        if len(tail):
            assert torch.equal(tail, full_band[row].expand_as(tail))
    again = spec_augment(features, np.random.default_rng(0), lengths=lengths)
    assert torch.equal(masked, again)


def test_mixup_blends_features_and_targets_alike() -> None:
    features = torch.arange(4, dtype=torch.float32).view(4, 1, 1).expand(4, 3, 2).clone()
    targets = torch.eye(4)
    mixed, mixed_targets, lam = mixup(features, targets, np.random.default_rng(3))
    assert torch.all(lam >= 0.5) and torch.all(lam <= 1.0)
    assert torch.allclose(mixed_targets.sum(dim=1), torch.ones(4))
    # Each mixed row is lam * own + (1 - lam) * partner, with the partner read off the targets.
    for row in range(4):
        partner_weight = mixed_targets[row].clone()
        partner_weight[row] -= lam[row]
        expected = lam[row] * row + (partner_weight * torch.arange(4.0)).sum()
        assert torch.allclose(mixed[row], torch.full((3, 2), float(expected)), atol=1e-5)
    with pytest.raises(ValueError):
        mixup(features, torch.eye(3), np.random.default_rng(0))
