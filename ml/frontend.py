"""The per-model front end: waveform conditioning + feature kind, recorded in each ``config.json``.

Training and inference must condition audio identically, so a model's front end is data, not
code paths: ``band_limit_hz`` round-trips the wave through that Nyquist rate with the project's one
resampler (so a 16 kHz upload looks exactly like an 8 kHz source — the model cannot learn the
band-limit instead of the sound), ``bandpass`` is an optional Butterworth band from ``miao eda``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ml.audio import SAMPLE_RATE, resample
from ml.features import LogMelConfig, ast_features, frames_for_seconds, mfcc
from ml.preprocess import bandpass

FEATURE_KINDS = ("logmel", "mfcc", "yamnet")


@dataclass(frozen=True)
class FrontEnd:
    """How a wave becomes a model's input."""

    kind: str = "logmel"
    band_limit_hz: int | None = None
    bandpass_hz: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; known: {FEATURE_KINDS}")

    @property
    def tag(self) -> str:
        """A short name for the cache folder of this front end's features."""
        band = f"-lim{self.band_limit_hz}" if self.band_limit_hz else ""
        bp = f"-bp{int(self.bandpass_hz[0])}_{int(self.bandpass_hz[1])}" if self.bandpass_hz else ""
        return f"{self.kind}{band}{bp}"

    def condition(self, wave: np.ndarray) -> np.ndarray:
        """Band-limit and bandpass the 16 kHz wave as this model was trained."""
        wave = np.asarray(wave, dtype=np.float32)
        if self.band_limit_hz:
            rate = 2 * self.band_limit_hz
            wave = resample(resample(wave, SAMPLE_RATE, rate), rate, SAMPLE_RATE)
        if self.bandpass_hz:
            wave = bandpass(wave, *self.bandpass_hz)
        return wave

    def features(self, wave: np.ndarray) -> np.ndarray:
        """Whole-clip features: ``[frames, 128]`` log-mel, ``[frames, 40]`` MFCC or ``[1042]``."""
        wave = self.condition(wave)
        if self.kind == "logmel":
            return logmel_full(wave)
        if self.kind == "mfcc":
            return mfcc(wave).T.copy()
        return _yamnet().embed(wave)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bandpass_hz"] = list(self.bandpass_hz) if self.bandpass_hz else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontEnd:
        bp = data.get("bandpass_hz")
        return cls(
            kind=str(data.get("kind", "logmel")),
            band_limit_hz=data.get("band_limit_hz"),
            bandpass_hz=(float(bp[0]), float(bp[1])) if bp else None,
        )


_YAMNET: list[Any] = []


def _yamnet() -> Any:
    """One YAMNet interpreter per process (it needs ``../shared/models/yamnet``)."""
    if not _YAMNET:
        from ml.embeddings import Yamnet

        _YAMNET.append(Yamnet())
    return _YAMNET[0]


LOGMEL = LogMelConfig()
LOGMEL_PAD = LOGMEL.padding_value
"""What a frame past the end of a clip holds (``ASTFeatureExtractor``'s zero-padded fbank)."""


_BUCKET_FRAMES = 100


def logmel_full(wave: np.ndarray) -> np.ndarray:
    """AST log-mel of the whole clip, ``[frames, 128]``, with no padding or cutting.

    Extractors are shared per 1 s bucket of length (building one computes the mel filters).
    """
    frames = max(1, frames_for_seconds(len(wave) / SAMPLE_RATE))
    bucket = -(-frames // _BUCKET_FRAMES) * _BUCKET_FRAMES
    out = ast_features(np.asarray(wave, dtype=np.float32), LogMelConfig(max_length=bucket))
    return out[:frames].numpy()


__all__ = ["FEATURE_KINDS", "LOGMEL_PAD", "FrontEnd", "ast_features", "logmel_full"]
