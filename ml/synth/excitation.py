"""Harmonic excitation for the WaveNet: a pitch contour read off the log-mel, as sines.

A WaveNet trained for minutes renders a mel contour as shaped noise: it has not learnt to make
the harmonics of a call, and without them the ``source`` labeller hears "other", not cat.
Neural source-filter models (Wang et al. 2019) hand the network the periodicity instead: sines
at the fundamental, which it only has to filter. Here the fundamental is *read off the
log-mel itself* by harmonic-template matching, so the same function serves training (the real
clip's mel) and generation (the mel prior's contour): nothing new has to be predicted, and
what the WaveNet is trained on is what it gets when generating.

Template matching: for each candidate f0 (150-2000 Hz, log-spaced) a comb of harmonics is put
through the mel filterbank; a frame's f0 is the template it correlates with best, and the frame
is voiced when that correlation and its energy are high enough. A 5-frame median smooths both.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ml.audio import SAMPLE_RATE
from ml.synth.mel import HOP, N_FFT, mel_filters, mel_to_power

F0_MIN = 150.0
F0_MAX = 2000.0
CANDIDATES = 160
VOICED_CORRELATION = 0.55
VOICED_FLOOR_DB = 40.0  # frames more than this below the loudest frame are unvoiced
CHANNELS = 4
"""Excitation channels a new model gets: sin(k·phase) and cos(k·phase) for k = 1, 2."""
NYQUIST_GUARD = 7800.0


@lru_cache(maxsize=1)
def _templates() -> tuple[torch.Tensor, torch.Tensor]:
    """(candidate f0s ``[C]``, z-scored log-mel harmonic templates ``[C, N_MELS]``)."""
    f0s = np.geomspace(F0_MIN, F0_MAX, CANDIDATES)
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    fb = mel_filters().numpy().astype(np.float64)
    rows = []
    for f0 in f0s:
        h = np.arange(1, int(SAMPLE_RATE / 2 // f0) + 1)
        comb = np.exp(-0.5 * ((freqs[None] - h[:, None] * f0) / 20.0) ** 2) / np.sqrt(h)[:, None]
        t = _fine_structure(torch.from_numpy(np.log(fb @ comb.sum(0) + 1e-3))[:, None])[:, 0]
        rows.append(((t - t.mean()) / (t.std() + 1e-9)).numpy())
    return torch.from_numpy(f0s).float(), torch.from_numpy(np.stack(rows)).float()


def _fine_structure(mel: torch.Tensor) -> torch.Tensor:
    """``[N_MELS, F]`` minus its moving average over 9 bands: the harmonic ripple, not the tilt.

    Without this, a spectral tilt (white noise has one in the mel domain) correlates with the
    harmonic templates as well as a harmonic call does.
    """
    x = mel.double().T[:, None]  # [F, 1, N_MELS]
    smooth = torch.nn.functional.avg_pool1d(
        torch.nn.functional.pad(x, (4, 4), mode="replicate"), 9, stride=1
    )
    return (x - smooth)[:, 0].T.to(mel.dtype)


def _median5(x: torch.Tensor) -> torch.Tensor:
    padded = torch.nn.functional.pad(x[None, None], (2, 2), mode="replicate")[0, 0]
    return padded.unfold(0, 5, 1).median(dim=-1).values


def pitch_from_mel(mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(f0 in Hz ``[F]``, voiced 0/1 ``[F]``) of a normalised log-mel ``[N_MELS, F]``."""
    mel = mel.float()
    f0s, templates = _templates()
    fine = _fine_structure(mel)
    z = (fine - fine.mean(0)) / (fine.std(0) + 1e-6)
    scores = templates @ z / mel.shape[0]  # Pearson correlation per candidate and frame
    corr, best = scores.max(0)
    energy_db = 10 * torch.log10(mel_to_power(mel).sum(0) + 1e-12)
    voiced = (corr > VOICED_CORRELATION) & (energy_db > energy_db.max() - VOICED_FLOOR_DB)
    f0 = _median5(f0s[best])
    return f0, (_median5(voiced.float()) > 0.5).float()


def _per_sample(frames: torch.Tensor, samples: int) -> np.ndarray:
    """A per-frame series at sample rate, linear between frame starts (frame f at f·HOP)."""
    return np.interp(np.arange(samples), np.arange(len(frames)) * HOP, frames.double().numpy())


def _sines(phase: np.ndarray, voiced: np.ndarray, f0: np.ndarray, channels: int) -> torch.Tensor:
    """``[channels, samples]``: ``voiced · sin(k·phase)``, ``voiced · cos(k·phase)``, k = 1, 2 …"""
    if channels % 2:
        raise ValueError(f"excitation channels come in sin/cos pairs, got {channels}")
    rows = []
    for k in range(1, channels // 2 + 1):
        gate = voiced * (k * f0 < NYQUIST_GUARD)
        rows += [gate * np.sin(k * phase), gate * np.cos(k * phase)]
    return torch.from_numpy(np.stack(rows)).float()


def excitation(mel: torch.Tensor, samples: int, channels: int = CHANNELS) -> torch.Tensor:
    """``[channels, samples]``: sines and cosines of ``k·phase`` where :func:`pitch_from_mel` is voiced.

    f0 and voicing are interpolated linearly between frame centres (frame ``f`` covers samples
    ``f*HOP …``); the phase starts at 0, so the excitation is a pure function of the mel.
    Harmonics above 7.8 kHz are left out (they would alias).
    """
    f0, voiced = pitch_from_mel(mel)
    f0_t = _per_sample(f0, samples)
    phase = 2 * math.pi * np.cumsum(f0_t) / SAMPLE_RATE
    return _sines(phase, _per_sample(voiced, samples), f0_t, channels)


def training_excitation(
    wave: np.ndarray, mel: torch.Tensor, channels: int = CHANNELS
) -> torch.Tensor:
    """The excitation a training clip gets: sines at the phase of its *own* fundamental.

    :func:`excitation` starts its phase at 0 and follows the estimated pitch, so it drifts
    against the real call within a few periods: under the next-sample loss it says little, and
    a WaveNet fine-tuned on it learnt to ignore it. Here, per voiced frame, the STFT bins around
    the strongest peak within ±15 % of the estimated f0 are kept and resynthesised: the clip's
    fundamental, whose analytic-signal phase gives the sines and cosines. Same form, unit amplitude
    and voicing as at generation, but aligned with the samples to predict, so the WaveNet learns
    to build the call's harmonics on it, and then builds them on the generated sines.
    """
    from scipy.fft import next_fast_len
    from scipy.signal import hilbert

    wave = np.asarray(wave, dtype=np.float32)
    f0, voiced = pitch_from_mel(mel)
    window = torch.hann_window(400)
    spec = torch.stft(
        torch.from_numpy(wave), N_FFT, HOP, 400, window, center=True, return_complex=True
    )
    frames = min(spec.shape[-1], len(f0))
    keep = torch.zeros(spec.shape, dtype=torch.bool)
    bin_hz = SAMPLE_RATE / N_FFT
    magnitude = spec.abs().numpy()
    f0_np = f0.numpy()
    for f in np.flatnonzero(voiced[:frames].numpy() > 0):
        lo = max(1, int(np.floor(0.85 * f0_np[f] / bin_hz)))
        hi = int(np.ceil(1.15 * f0_np[f] / bin_hz)) + 1
        peak = lo + int(np.argmax(magnitude[lo:hi, f]))
        keep[max(1, peak - 1) : peak + 2, f] = True
    fundamental = torch.istft(
        spec * keep, N_FFT, HOP, 400, window, center=True, length=len(wave)
    ).numpy()
    analytic = hilbert(fundamental.astype(np.float64), N=next_fast_len(len(wave)))
    phase = np.angle(analytic[: len(wave)])
    return _sines(phase, _per_sample(voiced, len(wave)), _per_sample(f0, len(wave)), channels)
