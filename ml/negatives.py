"""Synthetic "nothing in particular" sounds: white/pink/brown noise, silence, hum and pure tones.

Why: the ``source`` training data puts every class at its own typical length (spoken digits are
under 1.3 s, cries and noise clips 5-7 s, cats in between), and none of it contains plain noise,
digital silence or a steady tone. A model trained on it alone called 2 s of white noise ``cat``.
These waves are added to the task's negative label (``other``) during training, at random
lengths, so "broadband noise", "silence" and "a steady tone" are learned as not-an-animal at any
length. They are generated from a seed, so a run can be repeated.

:func:`negative_wave` draws one wave of a given kind; :func:`negative_waves` draws a bank of them.
"""

from __future__ import annotations

import numpy as np

from ml.audio import SAMPLE_RATE

NEGATIVE_KINDS = ("white", "pink", "brown", "silence", "dither", "tone", "hum")
"""Kinds drawn by :func:`negative_waves` (``silence`` is digital zero, ``dither`` near-silence)."""


def _coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose power falls as ``1 / f ** exponent`` (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    spectrum /= freqs ** (exponent / 2)
    wave = np.fft.irfft(spectrum, n)
    return wave / (np.std(wave) + 1e-12)


def negative_wave(
    kind: str, seconds: float, rng: np.random.Generator, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """One synthetic negative of ``kind`` (see :data:`NEGATIVE_KINDS`), mono float32 at ``sr``.

    Levels are drawn from -50 to -10 dBFS RMS (dither: -90 to -60), tones from 60 Hz to 3.8 kHz.
    """
    if kind not in NEGATIVE_KINDS:
        raise ValueError(f"unknown negative kind {kind!r}; known: {', '.join(NEGATIVE_KINDS)}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    n = max(1, round(seconds * sr))
    if kind == "silence":
        return np.zeros(n, dtype=np.float32)
    t = np.arange(n) / sr
    if kind in ("white", "pink", "brown"):
        wave = _coloured_noise(n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind], rng)
    elif kind == "dither":
        wave = rng.standard_normal(n)
    elif kind == "tone":
        freq = float(np.exp(rng.uniform(np.log(60.0), np.log(3800.0))))
        wave = np.sqrt(2) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    else:  # hum: mains 50/60 Hz and a few harmonics, steady
        base = 50.0 if rng.random() < 0.5 else 60.0
        weights = rng.uniform(0.0, 1.0, size=5)
        wave = sum(
            w * np.sin(2 * np.pi * base * (k + 1) * t + rng.uniform(0, 2 * np.pi))
            for k, w in enumerate(weights)
        )
        wave = np.asarray(wave) / (np.std(wave) + 1e-12)
    level_db = rng.uniform(-90.0, -60.0) if kind == "dither" else rng.uniform(-50.0, -10.0)
    wave = wave * 10 ** (level_db / 20)
    peak = float(np.abs(wave).max())
    if peak > 0.99:
        wave = wave * (0.99 / peak)
    return wave.astype(np.float32)


def negative_waves(
    count: int,
    seed: int,
    min_seconds: float = 0.3,
    max_seconds: float = 6.0,
    kinds: tuple[str, ...] = NEGATIVE_KINDS,
    sr: int = SAMPLE_RATE,
) -> list[tuple[str, np.ndarray]]:
    """``count`` negatives ``(kind, wave)``, kinds in turn, lengths log-uniform in the range."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(f"need 0 < min_seconds <= max_seconds, got {min_seconds}, {max_seconds}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        seconds = float(np.exp(rng.uniform(np.log(min_seconds), np.log(max_seconds))))
        out.append((kind, negative_wave(kind, seconds, rng, sr)))
    return out
