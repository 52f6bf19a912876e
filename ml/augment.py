"""Training-time augmentation: on waveforms (audiomentations) and on feature batches (torch).

Waveform side (:class:`WaveAugment`): time stretch, pitch shift, gain, background noise from
``noise_other`` (room ambience and ESC-50 noise), and a random 4 kHz band-limit so that a model
cannot use "this came from an 8 kHz dataset" as a shortcut for the class (see ``ml.tasks``).
Feature side: SpecAugment time/frequency masks and mixup on ``[B, T, F]`` log-mel batches.

Everything takes a seed or a ``numpy.random.Generator`` so a training run can be repeated.
audiomentations draws from Python's and numpy's global generators, so :class:`WaveAugment` seeds
those from its own generator before each call.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ml.audio import SAMPLE_RATE, ffmpeg_available
from ml.data import Clip, manifest_clips
from ml.preprocess import bandpass

NOISE_DATASET = "noise_other"
NOISE_LABELS = ("silence", "noise")
BAND_LIMIT_HZ = 3900.0  # just under the 4 kHz Nyquist of the 8 kHz datasets


def background_noise_files(
    shared_dir: str | Path | None = None,
    labels: Sequence[str] = NOISE_LABELS,
    exclude: Iterable[Clip | Path | str] = (),
) -> list[Path]:
    """Files of ``noise_other`` to mix in as background (room ambience, ESC-50 noise).

    Pass the validation and test clips of the task being trained as ``exclude``: whole groups
    of theirs are left out, so no test recording leaks into training as someone's background.
    """
    excluded_paths: set[Path] = set()
    excluded_groups: set[str] = set()
    for item in exclude:
        if isinstance(item, Clip):
            excluded_paths.add(item.path.resolve())
            excluded_groups.add(item.group)
        else:
            excluded_paths.add(Path(item).resolve())
    clips = manifest_clips(NOISE_DATASET, shared_dir)
    excluded_groups |= {c.group for c in clips if c.path.resolve() in excluded_paths}
    return [
        c.path
        for c in clips
        if c.source_label in labels
        and c.group not in excluded_groups
        and c.path.resolve() not in excluded_paths
    ]


PHONE_CODECS: dict[str, tuple[str, str]] = {
    # name: (ffmpeg encoder, container); all run at 8 kHz, as a phone app records
    "gsm": ("libgsm", "gsm"),  # GSM 06.10 full rate: a speech codec, like Android's AMR-NB
    "speex": ("libspeex", "ogg"),  # narrowband CELP, the family AMR-NB belongs to
    "ima_adpcm": ("adpcm_ima_wav", "wav"),  # what the iOS app wrote (IMA-ADPCM)
    "mulaw": ("pcm_mulaw", "wav"),  # G.711 telephone companding
}
"""Narrowband phone codecs that ffmpeg can encode here. AMR-NB itself, the codec of Donate-a-Cry's
Android uploads, can be decoded but not encoded; these leave the same kind of marks."""


def phone_channel(wave: np.ndarray, codec: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` as a phone app would keep it: resampled to 8 kHz, through ``codec`` and back to
    ``sample_rate``, the same length. Needs the ``ffmpeg`` program."""
    import subprocess

    if codec not in PHONE_CODECS:
        raise ValueError(f"unknown phone codec {codec!r}; known: {', '.join(PHONE_CODECS)}")
    if not ffmpeg_available():
        raise RuntimeError("the phone-channel augmentation needs the ffmpeg program")
    encoder, container = PHONE_CODECS[codec]
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    raw = ["-f", "f32le", "-ac", "1"]
    pcm = np.ascontiguousarray(wave, dtype=np.float32).tobytes()
    to_8k = ["-ar", "8000", "-c:a", encoder, "-f", container, "pipe:1"]
    encoded = subprocess.run(
        [*quiet, *raw, "-ar", str(sample_rate), "-i", "pipe:0", *to_8k],
        input=pcm,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    decoded = subprocess.run(
        [*quiet, "-f", container, "-i", "pipe:0", "-ar", str(sample_rate), *raw, "pipe:1"],
        input=encoded,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    out = np.frombuffer(decoded, dtype=np.float32)[: len(wave)]
    return np.pad(out, (0, len(wave) - len(out))).astype(np.float32)


@dataclass(frozen=True)
class WaveAugmentConfig:
    """Probabilities and ranges of the waveform augmentations (defaults: mild, label-safe)."""

    time_stretch_p: float = 0.3
    min_rate: float = 0.9
    max_rate: float = 1.1
    pitch_shift_p: float = 0.3
    min_semitones: float = -2.0
    max_semitones: float = 2.0
    gain_p: float = 0.5
    min_gain_db: float = -6.0
    max_gain_db: float = 6.0
    noise_p: float = 0.4
    min_snr_db: float = 5.0
    max_snr_db: float = 25.0
    band_limit_p: float = 0.25
    codec_p: float = 0.0  # through a random narrowband phone codec (:func:`phone_channel`)
    eq_p: float = 0.0  # a random seven-band EQ: another microphone's and room's frequency response
    eq_gain_db: float = 9.0  # each band boosted or cut by up to this much


# Only the phone channel, on every copy: Donate-a-Cry's cries all came through phone apps
# (AMR-NB or IMA-ADPCM at 8 kHz) and the cats did not, so a model can learn "phone codec ->
# infant_cry"; cats, speech and noise through the same codecs take that cue away. Tried on
# source without CatMeows (README): it did not make CatMeows' cats cat (27 of 384).
_PHONE = WaveAugmentConfig(
    time_stretch_p=0.0,
    pitch_shift_p=0.0,
    gain_p=0.0,
    noise_p=0.0,
    band_limit_p=0.0,
    codec_p=1.0,
)
AUG_PRESETS: dict[str, WaveAugmentConfig] = {
    "default": WaveAugmentConfig(),
    "phone": _PHONE,
    # Another device: a random microphone/room frequency response (seven peaking bands, up to
    # ±9 dB each) before the phone codec, for cats recorded at home on cheap devices (CatMeows),
    # which models that had not heard that setup called infant_cry. Tried on source without
    # CatMeows (README, 2026-11-30): no steadier across seeds than the phone preset.
    "device": replace(_PHONE, eq_p=1.0),
    # Only the 4 kHz band-limit, on every copy: for a model that keeps the whole 16 kHz band
    # (``TrainConfig.full_band``), so each clip is also heard as an 8 kHz recording would be and
    # "nothing above 4 kHz" cannot stand in for the 8 kHz datasets' labels.
    "band-limit": replace(_PHONE, codec_p=0.0, band_limit_p=1.0),
}
"""Named :class:`WaveAugmentConfig` s for ``TrainConfig.aug_preset`` (``miao train --aug-preset``)."""


class WaveAugment:
    """Random waveform augmentation of one mono 16 kHz clip; ``wave -> wave`` (same length).

    Pitch shift is kept within ±2 semitones by default: pitch carries meaning in cat and infant
    vocalizations, and larger shifts could turn one class into another.
    """

    def __init__(
        self,
        noise_files: Sequence[str | Path] = (),
        config: WaveAugmentConfig | None = None,
        seed: int | None = None,
    ) -> None:
        from audiomentations import (
            AddBackgroundNoise,
            Compose,
            Gain,
            PitchShift,
            SevenBandParametricEQ,
            TimeStretch,
        )

        self.config = cfg = config or WaveAugmentConfig()
        self.rng = np.random.default_rng(seed)
        transforms = [
            TimeStretch(
                min_rate=cfg.min_rate,
                max_rate=cfg.max_rate,
                leave_length_unchanged=True,
                p=cfg.time_stretch_p,
            ),
            PitchShift(
                min_semitones=cfg.min_semitones,
                max_semitones=cfg.max_semitones,
                p=cfg.pitch_shift_p,
            ),
            Gain(min_gain_db=cfg.min_gain_db, max_gain_db=cfg.max_gain_db, p=cfg.gain_p),
        ]
        if noise_files:
            transforms.append(
                AddBackgroundNoise(
                    sounds_path=[str(p) for p in noise_files],
                    min_snr_db=cfg.min_snr_db,
                    max_snr_db=cfg.max_snr_db,
                    p=cfg.noise_p,
                )
            )
        if cfg.eq_p > 0:  # after the noise: the room's noise reaches the microphone too
            transforms.append(
                SevenBandParametricEQ(
                    min_gain_db=-cfg.eq_gain_db, max_gain_db=cfg.eq_gain_db, p=cfg.eq_p
                )
            )
        self.pipeline = Compose(transforms)

    def __call__(self, wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.size < 2048:  # the stretch/shift methods need a little signal to work on
            return wave.copy()
        seed = int(self.rng.integers(2**31))
        random.seed(seed)
        np.random.seed(seed)  # audiomentations draws from the global generators
        out = self.pipeline(samples=wave, sample_rate=sample_rate)
        if self.rng.random() < self.config.band_limit_p:
            out = bandpass(out, 0.0, BAND_LIMIT_HZ, sr=sample_rate, order=8)
        if self.rng.random() < self.config.codec_p:
            codec = str(self.rng.choice(sorted(PHONE_CODECS)))
            out = phone_channel(out, codec, sample_rate)
        peak = float(np.abs(out).max()) if out.size else 0.0
        if peak > 1.0:  # gain + noise can clip; keep the waveform in range
            out = out / peak
        return np.ascontiguousarray(out, dtype=np.float32)


def spec_augment(
    features: torch.Tensor,
    rng: np.random.Generator,
    *,
    freq_masks: int = 2,
    max_freq_width: int = 24,
    time_masks: int = 2,
    max_time_fraction: float = 0.1,
    lengths: torch.Tensor | None = None,
    value: float = 0.0,
) -> torch.Tensor:
    """SpecAugment on a ``[B, T, F]`` batch: random frequency bands and time spans set to ``value``.

    ``value`` 0.0 is the dataset mean after AST normalisation. Time masks stay within each
    row's valid frames when ``lengths`` (frames per row) is given. Returns a new tensor.
    """
    if features.ndim != 3:
        raise ValueError(f"expected [batch, time, freq], got {tuple(features.shape)}")
    batch, frames, bins = features.shape
    out = features.clone()
    valid = (
        np.full(batch, frames)
        if lengths is None
        else np.clip(lengths.cpu().numpy(), 1, frames).astype(int)
    )
    freq_index = torch.arange(bins)
    time_index = torch.arange(frames)
    mask = torch.zeros((batch, frames, bins), dtype=torch.bool)
    for _ in range(freq_masks):
        width = rng.integers(0, max_freq_width + 1, size=batch)
        start = rng.integers(0, np.maximum(bins - width, 0) + 1)
        lo, hi = torch.from_numpy(start), torch.from_numpy(start + width)
        band = (freq_index[None, :] >= lo[:, None]) & (freq_index[None, :] < hi[:, None])
        mask |= band[:, None, :]
    for _ in range(time_masks):
        max_width = np.maximum((valid * max_time_fraction).astype(int), 0)
        width = rng.integers(0, max_width + 1)
        start = rng.integers(0, np.maximum(valid - width, 0) + 1)
        lo, hi = torch.from_numpy(start), torch.from_numpy(start + width)
        span = (time_index[None, :] >= lo[:, None]) & (time_index[None, :] < hi[:, None])
        mask |= span[:, :, None]
    out[mask.to(out.device)] = value
    return out


def mixup(
    features: torch.Tensor,
    targets: torch.Tensor,
    rng: np.random.Generator,
    alpha: float = 0.4,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup: each row blended with a random other row, targets blended the same way.

    ``targets`` are class probabilities ``[B, C]`` (one-hot for hard labels). The weight
    ``lam ~ Beta(alpha, alpha)`` is drawn per row and folded to ``>= 0.5`` so each mixed row
    stays closest to its own clip. Returns ``(features, targets, lam)``.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if targets.ndim != 2 or targets.shape[0] != features.shape[0]:
        raise ValueError("targets must be [batch, classes] probabilities matching the features")
    batch = features.shape[0]
    lam_np = rng.beta(alpha, alpha, size=batch)
    lam_np = np.maximum(lam_np, 1 - lam_np)
    partner = torch.from_numpy(rng.permutation(batch)).to(features.device)
    lam = torch.from_numpy(lam_np).to(device=features.device, dtype=features.dtype)
    shape = (batch,) + (1,) * (features.ndim - 1)
    mixed = lam.view(shape) * features + (1 - lam.view(shape)) * features[partner]
    lam_t = lam.to(targets.dtype).view(batch, 1)
    mixed_targets = lam_t * targets + (1 - lam_t) * targets[partner]
    return mixed, mixed_targets, lam
