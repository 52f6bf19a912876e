"""Harmonic excitation: the pitch read off a log-mel, and the sines made from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.synth.excitation import excitation, pitch_from_mel
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
    exc = excitation(log_mel(wave), len(wave), harmonics=2)
    assert exc.shape == (2, len(wave))
    first = exc[0, 1000:7000].numpy()
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    peak_hz = np.argmax(spectrum) * 16000 / len(first)
    assert abs(peak_hz - 500) < 15
    assert torch.all(exc[:, 9500:] == 0)  # silence: no excitation
    assert torch.equal(exc, excitation(log_mel(wave), len(wave), harmonics=2))  # deterministic
