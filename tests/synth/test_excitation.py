"""Harmonic excitation: the pitch read off a log-mel, and the sines made from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.synth.excitation import excitation, pitch_from_mel, training_excitation
from ml.synth.mel import log_mel


def tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * 16000)) / 16000
    harmonics = [np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8) if k * f0 < 8000]
    return (np.sum(harmonics, axis=0) * 0.3).astype(np.float32)


@pytest.mark.parametrize("f0", [200.0, 440.0, 700.0, 1100.0, 1800.0])
def test_pitch_of_a_harmonic_tone(f0: float) -> None:
    pitch, voiced = pitch_from_mel(log_mel(tone(f0)))
    assert voiced.mean() > 0.95
    assert abs(float(pitch[5:-5].median()) / f0 - 1) < 0.03


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_and_silence_are_unvoiced(seed: int) -> None:
    noise = np.random.default_rng(seed).normal(0, 0.1, 32000).astype(np.float32)
    assert pitch_from_mel(log_mel(noise))[1].mean() < 0.05
    assert pitch_from_mel(log_mel(np.zeros(8000, dtype=np.float32)))[1].sum() == 0


def test_excitation_is_sines_at_the_pitch_where_voiced() -> None:
    wave = np.concatenate([tone(500.0, 0.5), np.zeros(8000, dtype=np.float32)])
    exc = excitation(log_mel(wave), len(wave), channels=4)
    assert exc.shape == (4, len(wave))
    first = exc[0, 1000:7000].numpy()
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    peak_hz = np.argmax(spectrum) * 16000 / len(first)
    assert abs(peak_hz - 500) < 15
    assert torch.all(exc[:, 9500:] == 0)  # silence: no excitation
    assert torch.equal(exc, excitation(log_mel(wave), len(wave), channels=4))  # deterministic


def test_training_excitation_follows_the_clips_own_fundamental() -> None:
    """Training sines are in phase with the clip (so they predict it); generation's have its
    pitch but their own phase. Both have the same form, voicing and channel layout."""
    f0, seconds = 440.0, 0.5
    wave = tone(f0, seconds)
    mel = log_mel(wave)
    trained, generated = training_excitation(wave, mel, 4), excitation(mel, len(wave), 4)
    assert trained.shape == generated.shape == (4, len(wave))
    t = np.arange(len(wave)) / 16000
    fundamental = np.sin(2 * np.pi * f0 * t)  # the tone's first harmonic
    middle = slice(800, len(wave) - 800)
    # cos of the analytic phase of A·sin(ωt) is sin(ωt): channel 1 is the fundamental itself.
    assert np.corrcoef(trained[1, middle].numpy(), fundamental[middle])[0, 1] > 0.95
    assert torch.equal(trained != 0, generated != 0)  # the same voiced samples
    with pytest.raises(ValueError, match="pairs"):
        excitation(mel, len(wave), 3)
