"""Signal tools every synthesis model shares: µ-law, the synthesis log-mel, envelopes, Griffin-Lim.

The synthesis log-mel is not the AST front end (``ml.features``): it has no pre-emphasis or
per-dataset normalisation, so it can be inverted (Griffin-Lim) and used as the WaveNet's local
conditioning. 80 Slaney mel bands 0-8 kHz, 25 ms Hann window, 10 ms hop (one frame per
:data:`HOP` samples; frame ``f`` covers the samples ``f*HOP … (f+1)*HOP-1`` for conditioning).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ml.audio import SAMPLE_RATE

MU = 255
QUANT_LEVELS = MU + 1
N_MELS = 80
N_FFT = 512
WIN = 400
HOP = 160
LOG_FLOOR = 1e-5
MEL_OFFSET = 5.0  # logmel ≈ [-11.5, 4]; (logmel + 5) / 3 is roughly zero-mean, unit-scale
MEL_SCALE = 3.0


def mu_law_encode(wave: np.ndarray | torch.Tensor, mu: int = MU) -> np.ndarray | torch.Tensor:
    """Floats in [-1, 1] → integer classes 0…mu (8-bit µ-law companding + uniform quantisation)."""
    if isinstance(wave, torch.Tensor):
        x = wave.clamp(-1.0, 1.0)
        f = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
        return torch.round((f + 1) / 2 * mu).long()
    x = np.clip(np.asarray(wave, dtype=np.float64), -1.0, 1.0)
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    return np.round((f + 1) / 2 * mu).astype(np.int64)


def mu_law_decode(classes: np.ndarray | torch.Tensor, mu: int = MU) -> np.ndarray | torch.Tensor:
    """Integer classes 0…mu → floats in [-1, 1] (inverse of :func:`mu_law_encode`)."""
    if isinstance(classes, torch.Tensor):
        f = classes.float() / mu * 2 - 1
        return torch.sign(f) * torch.expm1(f.abs() * math.log1p(mu)) / mu
    f = np.asarray(classes, dtype=np.float64) / mu * 2 - 1
    return (np.sign(f) * np.expm1(np.abs(f) * math.log1p(mu)) / mu).astype(np.float32)


_F_SP = 200.0 / 3  # Slaney mel scale: linear below 1 kHz, logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, mel * _F_SP)


@lru_cache(maxsize=1)
def mel_filters() -> torch.Tensor:
    """Slaney mel filterbank ``[N_MELS, N_FFT//2+1]``, area-normalised.

    The formula of ``librosa.filters.mel(htk=False, norm="slaney")`` (a test checks they are
    equal), written out so synthesis training needs no librosa: a GPU machine may lack it.
    """
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(8000.0), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


@lru_cache(maxsize=1)
def _window() -> torch.Tensor:
    return torch.hann_window(WIN)


def frames_for(samples: int) -> int:
    """Conditioning frames for a wave of ``samples`` samples (one per started hop)."""
    return max(1, math.ceil(samples / HOP))


def _stft(wave: torch.Tensor) -> torch.Tensor:
    return torch.stft(
        wave,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=WIN,
        window=_window(),
        center=True,
        return_complex=True,
    )


def log_mel(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Normalised log-mel ``[N_MELS, frames_for(len)]`` (or ``[B, N_MELS, F]`` for a batch)."""
    x = torch.as_tensor(
        np.asarray(wave, dtype=np.float32) if isinstance(wave, np.ndarray) else wave
    )
    single = x.ndim == 1
    if single:
        x = x[None]
    frames = frames_for(x.shape[-1])
    power = _stft(x).abs().square()  # [B, 257, N//HOP + 1]
    mel = torch.clamp(mel_filters() @ power, min=LOG_FLOOR).log()
    mel = (mel[..., :frames] + MEL_OFFSET) / MEL_SCALE
    return mel[0] if single else mel


def mel_to_power(mel: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation: mel power (linear) from :func:`log_mel` output."""
    return torch.exp(mel * MEL_SCALE - MEL_OFFSET)


def frame_log_energy(mel: torch.Tensor) -> torch.Tensor:
    """Per-frame log of the summed mel power, ``[..., F]`` (the envelope in the mel domain)."""
    return torch.logsumexp(mel * MEL_SCALE - MEL_OFFSET, dim=-2)


def reapply_envelope(out_mel: torch.Tensor, in_mel: torch.Tensor) -> torch.Tensor:
    """Shift every frame of ``out_mel`` so its summed mel power equals ``in_mel``'s in that frame.

    This is how style transfer keeps the input's loudness envelope and onsets *by construction*:
    the GAN decides the spectral shape of each frame, the input decides its energy.
    """
    if out_mel.shape != in_mel.shape:
        raise ValueError(f"mel shapes differ: {tuple(out_mel.shape)} vs {tuple(in_mel.shape)}")
    shift = (frame_log_energy(in_mel) - frame_log_energy(out_mel)) / MEL_SCALE
    return out_mel + shift.unsqueeze(-2)


def loudness_envelope(wave: np.ndarray) -> np.ndarray:
    """Frame RMS in dB (25 ms window, 10 ms hop, floor -80 dB): the rhythm a listener hears."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < WIN:
        wave = np.pad(wave, (0, WIN - wave.size))
    frames = np.lib.stride_tricks.sliding_window_view(wave, WIN)[::HOP]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), -80.0)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally long series (0.0 when either is constant)."""
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def griffin_lim(mel: torch.Tensor, samples: int, iterations: int = 32, seed: int = 0) -> np.ndarray:
    """Invert a :func:`log_mel` to a wave: mel → linear magnitude (pseudo-inverse), fast Griffin-Lim.

    Phase is estimated, not modelled: expect a slightly "phasey" sound. Momentum 0.99
    (Perraudin et al. 2013). ``samples`` is the output length.
    """
    fb = mel_filters()
    power = mel_to_power(mel)
    magnitude = torch.clamp(torch.linalg.pinv(fb) @ power, min=0.0).sqrt()  # [257, F]
    frames = samples // HOP + 1
    if magnitude.shape[-1] < frames:
        magnitude = torch.nn.functional.pad(magnitude, (0, frames - magnitude.shape[-1]))
    magnitude = magnitude[..., :frames]
    gen = torch.Generator().manual_seed(seed)
    angles = torch.exp(2j * math.pi * torch.rand(magnitude.shape, generator=gen))
    previous = torch.zeros_like(angles)
    wave = torch.zeros(samples)
    for _ in range(iterations):
        wave = torch.istft(
            magnitude * angles,
            n_fft=N_FFT,
            hop_length=HOP,
            win_length=WIN,
            window=_window(),
            center=True,
            length=samples,
        )
        rebuilt = _stft(wave)
        accelerated = rebuilt - 0.99 * previous
        previous = rebuilt
        angles = accelerated / torch.clamp(accelerated.abs(), min=1e-8)
    return wave.numpy().astype(np.float32)


def peak_normalise(wave: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale so the largest absolute sample is ``peak`` (silence stays silence)."""
    top = float(np.max(np.abs(wave))) if wave.size else 0.0
    return (wave * (peak / top)).astype(np.float32) if top > 1e-6 else wave.astype(np.float32)


def bands_below(hz: float) -> int:
    """How many mel bands have their centre below ``hz`` (a band-limited source's top band)."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(8000.0), N_MELS + 2))
    return int(np.sum(edges[1:-1] < hz))


def warp_bands(mel: torch.Tensor, factor: float, top: int = N_MELS) -> torch.Tensor:
    """Stretch (``factor`` > 1) or squeeze a log-mel's lowest ``top`` bands along the mel axis.

    Band ``i`` takes the value at ``i / factor``, linearly interpolated; bands from ``top`` up are
    kept, so a band-limited voice keeps its cut-off where it was. Pitch and formants move
    together, as in vocal tract length perturbation: one speaker becomes many.
    """
    if factor <= 0:
        raise ValueError(f"warp factor must be positive, got {factor}")
    source = (torch.arange(top, dtype=torch.float32) / factor).clamp(max=top - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=top - 1)
    frac = (source - low.float())[:, None]
    warped = mel[..., low, :] * (1 - frac) + mel[..., high, :] * frac
    return torch.cat([warped, mel[..., top:, :]], dim=-2)
