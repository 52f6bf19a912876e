"""Pure tones for band-limit tests: a wave with one tone below 4 kHz and one above, and the
power a wave holds near a frequency."""

from __future__ import annotations

import numpy as np

from ml.audio import SAMPLE_RATE


def low_and_high_tones(seconds: float, low_hz: float = 1000, high_hz: float = 6000) -> np.ndarray:
    """A 1 kHz and a 6 kHz tone of equal level: what a 4 kHz band-limit keeps and cuts."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = 0.3 * np.sin(2 * np.pi * low_hz * t) + 0.3 * np.sin(2 * np.pi * high_hz * t)
    return wave.astype(np.float32)


def power_near(wave: np.ndarray, hz: float) -> float:
    """Spectral power within 20 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SAMPLE_RATE)
    return float(spectrum[np.abs(freqs - hz) < 20].sum())
