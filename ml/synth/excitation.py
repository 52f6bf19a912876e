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
HARMONICS = 2
"""Excitation channels a new model gets: sin(k·phase) for k = 1 … HARMONICS."""
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


def excitation(mel: torch.Tensor, samples: int, harmonics: int = HARMONICS) -> torch.Tensor:
    """``[harmonics, samples]``: ``voiced · sin(k·phase)`` with the phase of :func:`pitch_from_mel`.

    f0 and voicing are interpolated linearly between frame centres (frame ``f`` covers samples
    ``f*HOP …``); the phase starts at 0, so the excitation is a pure function of the mel.
    Harmonics above 7.8 kHz are left out (they would alias).
    """
    f0, voiced = pitch_from_mel(mel)
    frame_pos = torch.arange(len(f0), dtype=torch.float64) * HOP
    t = torch.arange(samples, dtype=torch.float64)
    f0_t = torch.from_numpy(np.interp(t.numpy(), frame_pos.numpy(), f0.double().numpy()))
    v_t = torch.from_numpy(np.interp(t.numpy(), frame_pos.numpy(), voiced.double().numpy()))
    phase = 2 * math.pi * torch.cumsum(f0_t, 0) / SAMPLE_RATE
    rows = [
        v_t * torch.sin(k * phase) * (k * f0_t < NYQUIST_GUARD) for k in range(1, harmonics + 1)
    ]
    return torch.stack(rows).float()
