"""Sounds the project makes itself (never copies of ``../shared`` data): a meow-like call for the
demo and the tests, synthesised from a few harmonics of a rising-then-falling pitch."""

from __future__ import annotations

import io

import numpy as np

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


def meow_wav_bytes(seconds: float = 1.2, *, seed: int = 0, rate: int = SAMPLE_RATE) -> bytes:
    """:func:`meow_wave` as a 16-bit PCM WAV file."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, meow_wave(seconds, seed=seed, rate=rate), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
