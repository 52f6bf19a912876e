"""Sounds the project makes itself (never copies of ``../shared`` data): a meow-like call and a
voice-like vowel sequence for the demo and the tests, synthesised from harmonics."""

from __future__ import annotations

import numpy as np

from ml.audio import encode_wav

SAMPLE_RATE = 16_000


def meow_wave(seconds: float = 1.2, *, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A mono float32 "mi-aow": f0 glides 500 → 900 → 450 Hz with vibrato, five harmonics whose
    balance moves from "i" to "ow", an attack/decay envelope and a little breath noise.
    ``seed`` varies the pitch contour and noise, so each seed is different content."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    u = t / seconds
    peak = 850 + 100 * rng.random()
    f0 = 500 + (peak - 500) * np.sin(np.pi * np.minimum(u / 0.6, 1.0) / 2) ** 2
    f0 = np.where(u > 0.6, peak - (peak - 450) * ((u - 0.6) / 0.4), f0)
    f0 *= 1 + 0.02 * np.sin(2 * np.pi * (5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = np.zeros(n)
    for k in range(1, 6):
        weight = (1 - u) / k + u / k**0.5  # brighter "ow" towards the end
        wave += weight * np.sin(k * phase)
    envelope = np.minimum(1.0, t / 0.08) * np.exp(-2.0 * np.maximum(0.0, u - 0.7))
    wave = wave * envelope + rng.normal(0, 0.01, n)
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def voice_wave(seconds: float = 1.0, *, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A mono float32 voice-like "ba-da-ga": a 110 to 140 Hz glottal buzz shaped by the first two
    formants of a vowel per syllable, with gaps between syllables (a rhythm to keep)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = (110 + 30 * rng.random()) * (1 - 0.15 * t / max(seconds, 1e-6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = [(730, 1090), (270, 2290), (570, 840)]  # "a", "i", "u"
    syllables = 3
    wave = np.zeros(n)
    for k in range(1, 30):
        freq = k * f0
        gain = np.zeros(n)
        for s, (f1, f2) in enumerate(formants[:syllables]):
            on = (t >= s * seconds / syllables) & (t < (s + 0.75) * seconds / syllables)
            shape = np.exp(-(((freq - f1) / 120) ** 2)) + 0.6 * np.exp(-(((freq - f2) / 160) ** 2))
            gain += on * shape
        wave += gain * np.sin(k * phase) / k**0.5
    wave += rng.normal(0, 0.005, n)
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def meow_wav_bytes(seconds: float = 1.2, *, seed: int = 0, rate: int = SAMPLE_RATE) -> bytes:
    """:func:`meow_wave` as a 16-bit PCM WAV file."""
    return encode_wav(meow_wave(seconds, seed=seed, rate=rate), rate)


def voice_wav_bytes(seconds: float = 1.0, *, seed: int = 0, rate: int = SAMPLE_RATE) -> bytes:
    """:func:`voice_wave` as a 16-bit PCM WAV file."""
    return encode_wav(voice_wave(seconds, seed=seed, rate=rate), rate)
