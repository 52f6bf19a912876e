"""Signal conditioning applied before features: a zero-phase Butterworth bandpass.

Also :func:`loudest_crop`, the short piece of a clip the length-shortcut checks label.

The band per dataset comes from ``miao eda`` (see ``ml.eda``): it keeps the part of the spectrum
where the animal's or infant's energy is and drops rumble and hiss that carry no label.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ml.audio import SAMPLE_RATE


def bandpass(
    wave: np.ndarray,
    low_hz: float,
    high_hz: float,
    sr: int = SAMPLE_RATE,
    order: int = 4,
) -> np.ndarray:
    """Zero-phase Butterworth bandpass (second-order sections, run forward and backward).

    ``low_hz <= 0`` makes it a lowpass and ``high_hz >= sr / 2`` a highpass, so a band read off
    the EDA that touches either edge still works. Zero phase keeps onsets where they were. The
    effective order is doubled by the forward-backward pass.
    """
    nyquist = sr / 2
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    if high_hz <= low_hz:
        raise ValueError(f"high_hz ({high_hz}) must be above low_hz ({low_hz})")
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono 1-D signal, got shape {wave.shape}")
    has_low = low_hz > 0
    has_high = high_hz < nyquist
    if not has_low and not has_high:
        return wave.copy()
    if has_low and has_high:
        sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sr, output="sos")
    elif has_low:
        sos = signal.butter(order, low_hz, btype="highpass", fs=sr, output="sos")
    else:
        sos = signal.butter(order, high_hz, btype="lowpass", fs=sr, output="sos")
    if wave.size < 2:
        return wave.copy()
    # sosfiltfilt pads by 3 * (2 * sections + 1) samples by default; very short clips get less.
    default_pad = 3 * (2 * len(sos) + 1)
    padlen = min(default_pad, wave.size - 1)
    return signal.sosfiltfilt(sos, wave, padlen=padlen).astype(np.float32)


def loudest_crop(wave: np.ndarray, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray | None:
    """The ``seconds`` of ``wave`` with the most energy (None when the clip is shorter).

    Searched in 10 ms steps; used to cut short crops of real clips that still hold the sound.
    """
    n = round(seconds * sr)
    if len(wave) < n:
        return None
    energy = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    hop = sr // 100
    starts = np.arange(0, len(wave) - n + 1, hop)
    best = int(starts[np.argmax(energy[starts + n] - energy[starts])])
    return wave[best : best + n]
