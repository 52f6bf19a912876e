"""Labelling one clip within a request: decode and check it as uploads are, then run the models.

The checks and their error codes are the upload's (``backend.pipeline.uploads``): 413 over the
size limit, 415 not audio, 422 undecodable, truncated, shorter than 0.2 s or longer than 60 s.
The labellers are ``ml.registry``'s, loaded once per process and kept; inference is plain
blocking code that the route runs in a worker thread, so concurrent requests overlap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from backend.pipeline.uploads import MAX_DURATION_S, MIN_DURATION_S, UploadRejected

# One sample past the longest accepted clip: decoding stops there, so a long file costs no more.
_DECODE_LIMIT_S = MAX_DURATION_S + 1.0


class ModelUnavailable(RuntimeError):
    """No shipped ``source`` model (or a broken one): analysis cannot run on this server."""


@dataclass(frozen=True)
class TaskVerdict:
    """One model's answer: its task, label, the probability of every label, and its id."""

    task: str
    label: str
    display_label: str
    confidence: float
    probabilities: dict[str, float]
    model_id: str

    def as_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "label": self.label,
            "display_label": self.display_label,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "model_id": self.model_id,
        }


@dataclass(frozen=True)
class Analysis:
    """The verdicts on one clip: ``source`` first, then the task its source routes to."""

    verdicts: list[TaskVerdict]
    duration_s: float
    elapsed_ms: float

    @property
    def main(self) -> TaskVerdict:
        """The most specific verdict (the routed task's when it ran, else ``source``)."""
        return self.verdicts[-1]


def decode_clip(data: bytes, max_bytes: int) -> tuple[str, np.ndarray]:
    """(format, mono float32 16 kHz wave) of an uploaded clip, or ``UploadRejected``."""
    from ml.audio import (
        SAMPLE_RATE,
        AudioDecodeError,
        UnsupportedFormatError,
        load_audio,
        sniff_format,
    )

    if len(data) > max_bytes:
        raise UploadRejected(
            413, "too_large", f"the file is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    if not data:
        raise UploadRejected(422, "empty_file", "the file is empty")
    try:
        fmt = sniff_format(data)
        wave = load_audio(data, max_seconds=_DECODE_LIMIT_S)
    except UnsupportedFormatError as exc:
        raise UploadRejected(415, "unsupported_format", str(exc)) from None
    except AudioDecodeError as exc:
        raise UploadRejected(422, "undecodable_audio", str(exc)) from None
    duration_s = len(wave) / SAMPLE_RATE
    if duration_s < MIN_DURATION_S:
        raise UploadRejected(
            422,
            "too_short",
            f"the recording is {duration_s:.3f} s; at least {MIN_DURATION_S} s is needed",
        )
    if duration_s > MAX_DURATION_S:
        raise UploadRejected(
            422,
            "too_long",
            f"the recording is over {MAX_DURATION_S:g} s; at most {MAX_DURATION_S:g} s is accepted",
        )
    return fmt, wave


def load_models() -> list[str]:
    """Load the shipped labellers now (they stay loaded); the tasks that are available."""
    from ml.registry import ModelNotFoundError, load_labeller, shipped_tasks

    tasks = shipped_tasks()
    try:
        for task in tasks if "source" in tasks else ["source"]:
            load_labeller(task)
    except (ModelNotFoundError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"the source model cannot be loaded: {exc}") from None
    return tasks


def label_wave(wave: np.ndarray) -> Analysis:
    """Run ``source`` and the task it routes to on a 16 kHz wave (blocking: call in a thread)."""
    from ml.audio import SAMPLE_RATE
    from ml.registry import ModelNotFoundError
    from ml.registry import label_wave as registry_label_wave
    from ml.tasks import get_task

    started = time.perf_counter()
    try:
        predictions = registry_label_wave(wave)
    except (ModelNotFoundError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"the source model cannot be loaded: {exc}") from None
    verdicts = [
        TaskVerdict(
            task=p.task,
            label=p.label,
            display_label=get_task(p.task).display(p.label),
            confidence=p.probabilities[p.label],
            probabilities=p.probabilities,
            model_id="0x" + p.model_id,
        )
        for p in predictions
    ]
    return Analysis(
        verdicts=verdicts,
        duration_s=round(len(wave) / SAMPLE_RATE, 4),
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def analyze_clip(data: bytes, max_bytes: int) -> tuple[str, Analysis]:
    """Decode, check and label one clip (blocking): (format, analysis)."""
    fmt, wave = decode_clip(data, max_bytes)
    return fmt, label_wave(wave)
