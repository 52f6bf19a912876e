"""Exploratory analysis of a dataset, per class: the figures that pick the bandpass band.

For every clip (decoded by ``ml.audio`` to 16 kHz, the way the models see it) it measures:

- **sample rate**: the file's native rate (8 kHz sources have nothing above 4 kHz);
- **duration** in seconds;
- **magnitude**: RMS level of the whole clip and of its active part, in dBFS;
- **dominant frequency**: the peak of the clip's mean power spectrum (2048-point STFT, 7.8 Hz bins,
  50 Hz to 8 kHz);
- **harmonics** (estimator): in each active frame (within 30 dB of the clip's loudest frame) the
  fundamental f0 is the 80-1500 Hz candidate that maximises a weighted sum of log magnitudes
  contrasts (capped at 30 dB) at f0, 2 f0 … 15 f0 (subharmonic summation), where contrast is the level in dB above
  the running mean level (dB) over ±150 Hz, and nothing more than 60 dB under the frame's
  peak counts; harmonic k is counted when the contrast peaks at 10 dB or more
  within ±2 % (at most ±39 Hz) of k·f0, up to the native Nyquist frequency.
  A frame is voiced when its fundamental and the 2nd or 3rd harmonic are present (so a pure
  tone counts as unvoiced). The clip value is the mean
  count over voiced frames (0 when none is voiced), and the voiced fraction is reported too.
  On synthetic signals it counts 5 for a 5-harmonic tone, 10 for a 10-harmonic one, and white
  noise is voiced in only a few percent of frames;
- **mean mel spectrogram**: the log-mel (AST front end, 128 bins) of the first 3 s, averaged
  over clips (short clips add nothing past their end), written as a PNG per class.

The class's **energy band** is where the central 95 % of its power lies (2.5th to 97.5th
percentile of its average normalised power spectrum, each clip weighted equally). The
**recommended bandpass** for the dataset spans every class's band (lowest low, highest high),
rounded outwards, with no highpass below 60 Hz and no lowpass above 95 % of the lowest Nyquist.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from scipy.ndimage import uniform_filter1d

from ml.audio import SAMPLE_RATE, load_audio
from ml.data import Clip, manifest_clips
from ml.features import ASTLogMel, LogMelConfig

N_FFT = 2048
HOP = 512
BAND_PERCENTILES = (2.5, 97.5)
MEL_SECONDS = 3.0
MEL_FRAMES = 298  # frames of a 3 s clip at 10 ms hop
F0_RANGE = (80.0, 1500.0)
HARMONIC_DB = 10.0
SHS_HARMONICS = 15  # enough that f0 beats 2 f0 (which lacks the odd harmonics)
SHS_CAP_DB = 30.0  # one huge peak must not outweigh several harmonics
LOCAL_BINS = 39  # ±150 Hz at 7.8 Hz per bin
FLOOR_DB = 60.0
MAX_HALF_WIDTH_BINS = 5  # ±39 Hz: vibrato smears high harmonics, noise must not win by width
ACTIVE_DB = 30.0

_FREQS = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)


@dataclass
class ClipStats:
    """What :func:`clip_stats` measures on one clip."""

    native_sample_rate: int
    duration_s: float
    rms_db: float
    active_rms_db: float
    dominant_hz: float
    harmonics: float
    voiced_fraction: float
    spectrum: np.ndarray  # mean power spectrum, normalised to sum 1 (N_FFT // 2 + 1 bins)
    mel: np.ndarray  # [MEL_FRAMES, 128] log-mel, NaN past the clip's end


def _stft_power(wave: np.ndarray) -> np.ndarray:
    """Power spectrogram ``[frames, bins]`` (Hann, N_FFT, HOP, no centring)."""
    if len(wave) < N_FFT:
        wave = np.pad(wave, (0, N_FFT - len(wave)))
    spec = torch.stft(
        torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=False,
        return_complex=True,
    )
    return (spec.abs() ** 2).T.numpy().astype(np.float64)


def harmonic_count(power: np.ndarray, nyquist_hz: float) -> tuple[float, float]:
    """Mean number of harmonics over voiced frames, and the voiced fraction (see module doc)."""
    if power.size == 0:
        return 0.0, 0.0
    frame_energy = power.sum(axis=1)
    active = frame_energy >= frame_energy.max() * 10 ** (-ACTIVE_DB / 10)
    if frame_energy.max() <= 0 or not active.any():
        return 0.0, 0.0
    db = 10 * np.log10(power[active] + 1e-12)  # [F, bins]
    bin_hz = _FREQS[1]
    limit_bin = int(min(nyquist_hz, SAMPLE_RATE / 2) / bin_hz)
    # Contrast against the local level (running mean of dB over ±150 Hz): a harmonic is a peak
    # above its neighbourhood, so coloured noise (rumble, pink noise) does not count. Levels
    # more than 60 dB under the frame's peak are no harmonics (that is the codec's floor).
    above = db - uniform_filter1d(db, LOCAL_BINS, axis=1, mode="nearest")
    above[db < db.max(axis=1, keepdims=True) - FLOOR_DB] = 0.0

    # f0 by subharmonic summation over a log-spaced candidate grid.
    candidates = np.geomspace(*F0_RANGE, num=240)
    weights = 0.84 ** np.arange(SHS_HARMONICS)
    harmonic_hz = np.outer(candidates, np.arange(1, SHS_HARMONICS + 1))
    weights = np.where(harmonic_hz < limit_bin * bin_hz, weights, 0.0)  # [C, K]
    harmonic_bins = np.clip(np.rint(harmonic_hz / bin_hz).astype(int), 0, limit_bin - 1)
    contrast = np.clip(above, 0, SHS_CAP_DB)
    salience = (contrast[:, harmonic_bins] * weights).sum(axis=2)  # [F, C]
    f0 = candidates[np.argmax(salience, axis=1)]  # [F]

    max_k = int(min(nyquist_hz, SAMPLE_RATE / 2) // F0_RANGE[0])
    ks = np.arange(1, max_k + 1)
    centres = f0[:, None] * ks[None, :]  # [F, K]
    valid = centres < min(nyquist_hz, SAMPLE_RATE / 2) * 0.98
    half_width = np.clip(np.rint(0.02 * centres / bin_hz), 1, MAX_HALF_WIDTH_BINS).astype(int)
    centre_bins = np.rint(centres / bin_hz).astype(int)
    present = np.zeros_like(valid)
    for offset in range(-int(half_width.max()), int(half_width.max()) + 1):
        index = np.clip(centre_bins + offset, 0, limit_bin - 1)
        in_window = np.abs(offset) <= half_width
        peak = np.take_along_axis(above, index, axis=1)
        present |= in_window & (peak >= HARMONIC_DB)
    present &= valid
    voiced = present[:, 0] & present[:, 1:3].any(axis=1)
    if not voiced.any():
        return 0.0, 0.0
    counts = present[voiced].sum(axis=1)
    return float(counts.mean()), float(voiced.sum() / len(frame_energy))


_MEL: ASTLogMel | None = None


def _mel(wave: np.ndarray) -> np.ndarray:
    global _MEL
    if _MEL is None:
        _MEL = ASTLogMel(LogMelConfig(max_length=MEL_FRAMES, do_normalize=False))
    return _MEL(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)))[0].numpy()


def clip_stats(clip: Clip) -> ClipStats:
    """Measure one clip (decoded to 16 kHz mono)."""
    native = int(sf.info(str(clip.path)).samplerate)
    wave = load_audio(clip.path)
    nyquist = native / 2
    power = _stft_power(wave)
    mean_power = power.mean(axis=0)
    top = min(nyquist, SAMPLE_RATE / 2)
    band = (_FREQS >= 50) & (top >= _FREQS)
    dominant = float(_FREQS[band][np.argmax(mean_power[band])]) if mean_power[band].any() else 0.0
    total = mean_power.sum()
    spectrum = mean_power / total if total > 0 else np.zeros_like(mean_power)

    squares = wave.astype(np.float64) ** 2
    rms = float(np.sqrt(squares.mean()))
    padded = np.pad(squares, (0, max(0, N_FFT - len(squares))))
    frame_ms = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP].mean(axis=1)
    active = frame_ms >= frame_ms.max() * 10 ** (-ACTIVE_DB / 10)
    active_rms = float(np.sqrt(frame_ms[active].mean())) if rms > 0 else 0.0
    harmonics, voiced = harmonic_count(power, nyquist)

    n = len(wave)
    mel = _mel(wave[: round(MEL_SECONDS * SAMPLE_RATE)])
    valid_frames = 0 if n < 400 else 1 + (min(n, round(MEL_SECONDS * SAMPLE_RATE)) - 400) // 160
    mel = mel.astype(np.float64)
    mel[valid_frames:] = np.nan
    return ClipStats(
        native_sample_rate=native,
        duration_s=n / SAMPLE_RATE,
        rms_db=_db(rms),
        active_rms_db=_db(active_rms),
        dominant_hz=dominant,
        harmonics=harmonics,
        voiced_fraction=voiced,
        spectrum=spectrum,
        mel=mel,
    )


def _db(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else -120.0


def _summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "min": float(array.min()),
        "p25": float(np.percentile(array, 25)),
        "median": float(np.median(array)),
        "p75": float(np.percentile(array, 75)),
        "max": float(array.max()),
    }


def energy_band(spectrum: np.ndarray) -> tuple[float, float]:
    """Frequencies below which 2.5 % and 97.5 % of a normalised power spectrum lie."""
    cumulative = np.cumsum(spectrum)
    if cumulative[-1] <= 0:
        return 0.0, SAMPLE_RATE / 2
    cumulative /= cumulative[-1]
    low = float(_FREQS[np.searchsorted(cumulative, BAND_PERCENTILES[0] / 100)])
    high = float(
        _FREQS[min(np.searchsorted(cumulative, BAND_PERCENTILES[1] / 100), len(_FREQS) - 1)]
    )
    return low, high


@dataclass
class ClassReport:
    label: str
    clips: int
    sample_rates: dict[str, int]
    duration_s: dict[str, float]
    rms_db: dict[str, float]
    active_rms_db: dict[str, float]
    dominant_hz: dict[str, float]
    harmonics: dict[str, float]
    voiced_fraction: float
    energy_band_hz: tuple[float, float]
    mel_png: str
    mean_spectrum: list[float] = field(repr=False)


@dataclass
class DatasetReport:
    dataset: str
    clips: int
    classes: list[ClassReport]
    recommended_band_hz: tuple[float | None, float | None]
    band_rationale: str
    failures: list[dict[str, str]]
    files: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for cls in data["classes"]:
            cls.pop("mean_spectrum")
        return data


def recommend_band(
    bands: list[tuple[float, float]], nyquist_hz: float
) -> tuple[tuple[float | None, float | None], str]:
    """Bandpass that keeps every class's energy band (``None``: no filter on that side)."""
    low = min(b[0] for b in bands)
    high = max(b[1] for b in bands)
    low_r = math.floor(low / 50) * 50
    high_r = math.ceil(high / 100) * 100
    low_out: float | None = float(low_r) if low_r >= 60 else None
    high_out: float | None = float(high_r) if high_r < 0.95 * nyquist_hz else None
    why = (
        f"classes' central-95 % energy spans {low:.0f}-{high:.0f} Hz; "
        f"highpass {f'at {low_r} Hz' if low_out else 'not useful (below 60 Hz)'}, "
        f"lowpass {f'at {high_r} Hz' if high_out else 'not useful (energy reaches Nyquist)'}"
    )
    return (low_out, high_out), why


def _plot_mel(mel: np.ndarray, label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    image = ax.imshow(
        mel.T, origin="lower", aspect="auto", cmap="magma", extent=(0, MEL_SECONDS, 0, 128)
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel bin (20 Hz-8 kHz)")
    ax.set_title(f"{label}: mean log-mel")
    fig.colorbar(image, ax=ax, label="ln power")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_spectra(
    reports: list[ClassReport], band: tuple[float | None, float | None], title: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for report in reports:
        spectrum = np.asarray(report.mean_spectrum)
        ax.plot(_FREQS, 10 * np.log10(spectrum + 1e-12), label=report.label, linewidth=1)
    low, high = band
    ax.axvspan(low or 0, high or SAMPLE_RATE / 2, color="grey", alpha=0.15, label="bandpass")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("normalised power (dB)")
    ax.set_title(title)
    ax.set_ylim(bottom=-90)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def analyze_dataset(
    dataset: str,
    out_dir: str | Path,
    shared_dir: str | Path | None = None,
    *,
    limit_per_class: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> DatasetReport:
    """Measure every clip (or the first ``limit_per_class`` per class, by path), write the
    report to ``out_dir/eda.json`` with PNGs beside it, and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips = manifest_clips(dataset, shared_dir)
    by_class: dict[str, list[Clip]] = defaultdict(list)
    for clip in sorted(clips, key=lambda c: str(c.path)):
        if limit_per_class is None or len(by_class[clip.source_label]) < limit_per_class:
            by_class[clip.source_label].append(clip)
    todo = [c for label in sorted(by_class) for c in by_class[label]]

    stats: dict[str, list[ClipStats]] = defaultdict(list)
    failures: list[dict[str, str]] = []
    for done, clip in enumerate(todo, start=1):
        try:
            stats[clip.source_label].append(clip_stats(clip))
        except (ValueError, OSError, RuntimeError) as exc:
            failures.append({"path": str(clip.path), "error": str(exc)})
        if on_progress:
            on_progress(done, len(todo))

    reports: list[ClassReport] = []
    min_nyquist = SAMPLE_RATE / 2
    for label in sorted(stats):
        items = stats[label]
        spectrum = np.mean([s.spectrum for s in items], axis=0)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames past every clip
                mel = np.nanmean(np.stack([s.mel for s in items]), axis=0)
        mel_png = out / f"mel_{_safe(label)}.png"
        _plot_mel(np.nan_to_num(mel, nan=float(np.nanmin(mel))), label, mel_png)
        rates = defaultdict(int)
        for s in items:
            rates[str(s.native_sample_rate)] += 1
            min_nyquist = min(min_nyquist, s.native_sample_rate / 2)
        reports.append(
            ClassReport(
                label=label,
                clips=len(items),
                sample_rates=dict(sorted(rates.items())),
                duration_s=_summary([s.duration_s for s in items]),
                rms_db=_summary([s.rms_db for s in items]),
                active_rms_db=_summary([s.active_rms_db for s in items]),
                dominant_hz=_summary([s.dominant_hz for s in items]),
                harmonics=_summary([s.harmonics for s in items]),
                voiced_fraction=float(np.mean([s.voiced_fraction for s in items])),
                energy_band_hz=energy_band(spectrum),
                mel_png=mel_png.name,
                mean_spectrum=spectrum.tolist(),
            )
        )
    if not reports:
        raise ValueError(f"{dataset}: no clip could be analysed ({len(failures)} failed)")
    band, why = recommend_band([r.energy_band_hz for r in reports], min_nyquist)
    spectra_png = out / "spectra.png"
    _plot_spectra(reports, band, f"{dataset}: mean power spectrum per class", spectra_png)
    report = DatasetReport(
        dataset=dataset,
        clips=sum(r.clips for r in reports),
        classes=reports,
        recommended_band_hz=band,
        band_rationale=why,
        failures=failures,
        files={"json": "eda.json", "spectra": spectra_png.name},
    )
    tmp = out / "eda.json.tmp"
    tmp.write_text(json.dumps(report.to_json(), indent=2))
    tmp.replace(out / "eda.json")
    return report


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
