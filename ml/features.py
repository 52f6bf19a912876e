"""Features: AST-compatible log-mel (batched torch), MFCC for baselines, spectrogram PNGs for people.

:class:`ASTLogMel` computes exactly what ``transformers.ASTFeatureExtractor`` computes (Kaldi-style
fbank: 25 ms frames, 10 ms hop, DC removal, 0.97 pre-emphasis, Hann window, 512-point power
spectrum, 128 Kaldi-mel filters from 20 Hz to 8 kHz, natural log with a floor, pad/cut to ``max_length``
frames, then ``(x - mean) / (2 * std)``), but on a whole batch at once with torch. The
mel filters come from ``transformers.audio_utils.mel_filter_bank`` so the two can never drift;
``tests/ml/test_features.py`` checks parity. A model trained on these features can therefore
ship an ``ASTFeatureExtractor`` config (:func:`to_feature_extractor`) for anyone using transformers.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.audio import SAMPLE_RATE

FRAME_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
FFT_LENGTH = 512
PREEMPHASIS = 0.97
MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon, as in Kaldi and ASTFeatureExtractor
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974


@dataclass(frozen=True)
class LogMelConfig:
    """Settings of the AST log-mel front end (defaults = ``ASTFeatureExtractor`` defaults).

    ``max_length`` is in frames (10 ms each): 1024 is AST's 10.24 s; 512 or less suits short
    clips and fast CPU models. ``mean``/``std`` are AudioSet's unless a model computed its own.
    """

    num_mel_bins: int = 128
    max_length: int = 1024
    mean: float = AUDIOSET_MEAN
    std: float = AUDIOSET_STD
    do_normalize: bool = True

    @property
    def padding_value(self) -> float:
        """What a padded (silent-beyond-the-clip) frame holds after normalisation."""
        return (0.0 - self.mean) / (2 * self.std) if self.do_normalize else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def frames_for_seconds(seconds: float) -> int:
    """Number of fbank frames a clip of ``seconds`` gives (Kaldi ``snip_edges``)."""
    samples = round(seconds * SAMPLE_RATE)
    return 0 if samples < FRAME_LENGTH else 1 + (samples - FRAME_LENGTH) // HOP_LENGTH


def _kaldi_mel_filters(num_mel_bins: int) -> np.ndarray:
    from transformers.audio_utils import mel_filter_bank

    with warnings.catch_warnings():
        # 128 Kaldi filters on a 257-bin spectrum leave the lowest filter empty; AST lives with it.
        warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
        return mel_filter_bank(
            num_frequency_bins=FFT_LENGTH // 2 + 1,
            num_mel_filters=num_mel_bins,
            min_frequency=20,
            max_frequency=SAMPLE_RATE // 2,
            sampling_rate=SAMPLE_RATE,
            norm=None,
            mel_scale="kaldi",
            triangularize_in_mel_space=True,
        )


class ASTLogMel(torch.nn.Module):
    """Batched torch equivalent of ``ASTFeatureExtractor``: waves ``[B, N]`` → ``[B, T, mels]``.

    ``lengths`` (samples per row) lets rows of different length share one padded tensor: frames
    past a row's own end are set to the padding value exactly as the extractor pads them, so a
    batch gives the same features as the clips one at a time.

    ``dtype`` is the compute precision: float32 (default, fast) agrees with the extractor to
    a few thousandths after normalisation (the differences sit in near-silent bins, where a
    float32 FFT's rounding shows in the log); float64 agrees to about 1e-6 at half the speed.
    """

    def __init__(
        self, config: LogMelConfig | None = None, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        self.config = config or LogMelConfig()
        self.dtype = dtype
        n = torch.arange(FRAME_LENGTH, dtype=torch.float64)
        hann = 0.5 - 0.5 * torch.cos(2 * torch.pi * n / (FRAME_LENGTH - 1))  # symmetric, Kaldi
        mel = torch.from_numpy(_kaldi_mel_filters(self.config.num_mel_bins))
        self.register_buffer("window", hann.to(dtype), persistent=False)
        self.register_buffer("mel_filters", mel.to(dtype), persistent=False)

    @torch.no_grad()
    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if waves.ndim == 1:
            waves = waves.unsqueeze(0)
        if waves.ndim != 2:
            raise ValueError(f"expected waves of shape [batch, samples], got {tuple(waves.shape)}")
        batch, samples = waves.shape
        cfg = self.config
        waves = waves.to(self.dtype)
        if lengths is None:
            lengths = torch.full((batch,), samples, dtype=torch.long, device=waves.device)
        lengths = lengths.to(device=waves.device, dtype=torch.long)

        # Only the frames that can appear in the output are computed.
        needed = FRAME_LENGTH + (cfg.max_length - 1) * HOP_LENGTH
        if samples < needed:
            waves = torch.nn.functional.pad(waves, (0, needed - samples))
        else:
            waves = waves[:, :needed]
        frames = waves.unfold(1, FRAME_LENGTH, HOP_LENGTH)  # [B, T, 400]
        frames = frames - frames.mean(dim=-1, keepdim=True)
        first = frames[..., :1] * (1 - PREEMPHASIS)
        frames = torch.cat([first, frames[..., 1:] - PREEMPHASIS * frames[..., :-1]], dim=-1)
        frames = frames * self.window
        spectrum = torch.fft.rfft(frames, n=FFT_LENGTH)
        power = spectrum.real.square() + spectrum.imag.square()  # [B, T, 257]
        fbank = torch.clamp(power @ self.mel_filters, min=MEL_FLOOR).log()

        valid = torch.where(
            lengths >= FRAME_LENGTH,
            1 + torch.div(lengths - FRAME_LENGTH, HOP_LENGTH, rounding_mode="floor"),
            torch.zeros_like(lengths),
        )
        frame_index = torch.arange(fbank.shape[1], device=waves.device)
        padded = frame_index[None, :] >= valid[:, None]
        fbank = fbank.masked_fill(padded[..., None], 0.0)
        if cfg.do_normalize:
            fbank = (fbank - cfg.mean) / (2 * cfg.std)
        return fbank.to(torch.float32)


def stack_waves(waves: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad mono waves into one ``[B, N]`` tensor plus their lengths."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    longest = int(lengths.max()) if len(waves) else 0
    batch = torch.zeros((len(waves), longest), dtype=torch.float32)
    for row, wave in enumerate(waves):
        batch[row, : len(wave)] = torch.from_numpy(np.asarray(wave, dtype=np.float32))
    return batch, lengths


_EXTRACTORS: dict[LogMelConfig, ASTLogMel] = {}


def ast_features(
    waves: np.ndarray | Sequence[np.ndarray], config: LogMelConfig | None = None
) -> torch.Tensor:
    """AST input values for one wave (``[T, mels]``) or a list of waves (``[B, T, mels]``)."""
    cfg = config or LogMelConfig()
    extractor = _EXTRACTORS.get(cfg)
    if extractor is None:
        extractor = _EXTRACTORS[cfg] = ASTLogMel(cfg)
    if isinstance(waves, np.ndarray) and waves.ndim == 1:
        return extractor(torch.from_numpy(np.asarray(waves, dtype=np.float32)))[0]
    batch, lengths = stack_waves(list(waves))
    return extractor(batch, lengths)


def to_feature_extractor(config: LogMelConfig | None = None) -> Any:
    """The ``transformers.ASTFeatureExtractor`` that computes the same features (for model export)."""
    from transformers import ASTFeatureExtractor

    cfg = config or LogMelConfig()
    return ASTFeatureExtractor(
        sampling_rate=SAMPLE_RATE,
        num_mel_bins=cfg.num_mel_bins,
        max_length=cfg.max_length,
        mean=cfg.mean,
        std=cfg.std,
        do_normalize=cfg.do_normalize,
    )


def mfcc(wave: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = 40, n_mels: int = 64) -> np.ndarray:
    """MFCCs ``[n_mfcc, frames]`` (librosa; 25 ms window, 10 ms hop) for the baseline CNN."""
    import librosa

    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < FRAME_LENGTH:
        wave = np.pad(wave, (0, FRAME_LENGTH - wave.size))
    return librosa.feature.mfcc(
        y=wave,
        sr=sr,
        n_mfcc=n_mfcc,
        n_fft=FFT_LENGTH,
        win_length=FRAME_LENGTH,
        hop_length=HOP_LENGTH,
        n_mels=n_mels,
        fmin=20.0,
        fmax=sr / 2,
    ).astype(np.float32)


def stft_db(wave: np.ndarray, n_fft: int = FFT_LENGTH, hop: int = HOP_LENGTH) -> np.ndarray:
    """Magnitude STFT in dB relative to the loudest bin, ``[n_fft // 2 + 1, frames]``."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < n_fft:
        wave = np.pad(wave, (0, n_fft - wave.size))
    spec = torch.stft(
        torch.from_numpy(wave),
        n_fft=n_fft,
        hop_length=hop,
        win_length=FRAME_LENGTH,
        window=torch.hann_window(FRAME_LENGTH),
        center=True,
        return_complex=True,
    ).abs()
    db = 20 * torch.log10(torch.clamp(spec, min=1e-10))
    return (db - db.max()).clamp(min=-80.0).numpy()


def spectrogram_png(
    wave: np.ndarray, sr: int = SAMPLE_RATE, title: str | None = None, dpi: int = 100
) -> bytes:
    """A PNG of the STFT spectrogram (time x frequency, dB) for people to look at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    db = stft_db(wave)
    duration = len(wave) / sr
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=dpi)
    image = ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0.0, max(duration, 1e-3), 0.0, sr / 2 / 1000),
        vmin=-80,
        vmax=0,
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, label="dB")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def stft_image(
    wave: np.ndarray, path: str | Path, sr: int = SAMPLE_RATE, title: str | None = None
) -> Path:
    """Write :func:`spectrogram_png` to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(spectrogram_png(wave, sr=sr, title=title))
    return path
