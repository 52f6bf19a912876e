"""YAMNet as a teacher and baseline: per-clip AudioSet class scores from the shared TFLite model.

The model lives in ``<shared>/models/yamnet/`` and is never copied into the repository. It
takes 15,600 samples (0.975 s) of 16 kHz audio and returns 521 sigmoid class scores plus the
64-band log-mel patch it saw. **This conversion exports no embedding layer** (the original
1,024-d YAMNet embedding is not reachable), so what this module calls the clip "embedding" is the
class-score vector, mean- and max-pooled over windows (1,042 numbers), optionally with the mean
log-mel patch (64 numbers). That is a sound-event description, not a learned general embedding:
it is good at "is there a cat / dog / baby / speech" and weak on finer labels (see the model's
README: a cat class fires on only 39-58 % of the cat datasets).

The interpreter comes from PyPI's ``ai-edge-litert`` (LiteRT, the successor of
``tflite-runtime``; works with numpy 2 on Python 3.11); ``tflite_runtime`` is tried as a fallback.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.data import default_shared_dir

WINDOW = 15600  # samples per YAMNet window (0.975 s)
HOP = 7800  # half a window
NUM_CLASSES = 521

# Class indices of the shared model's class map (yamnet_class_map.csv) per source label.
SOURCE_CLASS_INDICES: dict[str, tuple[int, ...]] = {
    "cat": (76, 77, 78, 79, 80),  # Cat, Purr, Meow, Hiss, Caterwaul
    "dog": (69, 70, 71, 72, 73, 74, 75),  # Dog, Bark, Yip, Howl, Bow-wow, Growling, Whimper (dog)
    "infant_cry": (20,),  # Baby cry, infant cry
    "human_speech": (0, 1, 2, 3),  # Speech, Child speech, Conversation, Narration
}


class YamnetUnavailableError(RuntimeError):
    """The YAMNet model file or a TFLite interpreter is missing on this machine."""


def default_model_dir(shared_dir: str | Path | None = None) -> Path:
    return Path(shared_dir or default_shared_dir()) / "models" / "yamnet"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError:
        raise YamnetUnavailableError(
            "no TFLite interpreter: install the 'ai-edge-litert' package (pip install ai-edge-litert)"
        ) from None


@dataclass(frozen=True)
class ClipScores:
    """YAMNet's view of one clip: per-window scores and their pooled summaries."""

    windows: np.ndarray  # [W, 521]
    mean: np.ndarray  # [521]
    max: np.ndarray  # [521]
    logmel_mean: np.ndarray  # [64], the mean over windows and frames of the model's log-mel

    def embedding(self, with_logmel: bool = False) -> np.ndarray:
        """The pooled score vector used as an embedding: ``[mean ‖ max]`` (+ mean log-mel)."""
        parts = [self.mean, self.max] + ([self.logmel_mean] if with_logmel else [])
        return np.concatenate(parts).astype(np.float32)

    def source_scores(self) -> dict[str, float]:
        """Max-pooled score of the best YAMNet class for each source label it can speak to."""
        return {
            label: float(self.max[list(indices)].max())
            for label, indices in SOURCE_CLASS_INDICES.items()
        }


def windows_of(wave: np.ndarray) -> np.ndarray:
    """Cut a clip into YAMNet windows (hop 7,800); the last and short clips are zero-padded."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono 1-D wave, got shape {wave.shape}")
    count = 1 + math.ceil(max(0, len(wave) - WINDOW) / HOP)  # the tail gets a window too
    out = np.zeros((count, WINDOW), dtype=np.float32)
    for row in range(count):
        piece = wave[row * HOP : row * HOP + WINDOW]
        out[row, : len(piece)] = piece
    return out


class Yamnet:
    """The shared YAMNet TFLite model. Not thread-safe: one instance per thread or process."""

    def __init__(self, model_dir: str | Path | None = None, num_threads: int = 1) -> None:
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        model_path = model_dir / "yamnet.tflite"
        if not model_path.is_file():
            raise YamnetUnavailableError(
                f"YAMNet model not found at {model_path} (set MIAO_SHARED_DIR)"
            )
        interpreter = _interpreter_class()(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        self._scores = outputs.get("Identity", min(outputs.values()))
        self._logmel = outputs.get("Identity_1", max(outputs.values()))
        with (model_dir / "yamnet_class_map.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.class_names: list[str] = [row["display_name"] for row in rows]
        if len(self.class_names) != NUM_CLASSES:
            raise YamnetUnavailableError(f"class map has {len(self.class_names)} rows, not 521")

    def _run(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._interpreter.set_tensor(self._input, window[None, :])
        self._interpreter.invoke()
        scores = self._interpreter.get_tensor(self._scores)[0].copy()
        logmel = self._interpreter.get_tensor(self._logmel).copy()
        return scores, logmel

    def scores(self, wave: np.ndarray) -> ClipScores:
        """Scores of a mono 16 kHz clip (resample other rates with ``ml.audio`` first)."""
        results = [self._run(window) for window in windows_of(wave)]
        windows = np.stack([r[0] for r in results]).astype(np.float32)
        logmel = np.stack([r[1] for r in results])
        return ClipScores(
            windows=windows,
            mean=windows.mean(axis=0),
            max=windows.max(axis=0),
            logmel_mean=logmel.mean(axis=(0, 1)).astype(np.float32),
        )

    def embed(self, wave: np.ndarray, with_logmel: bool = False) -> np.ndarray:
        """The 1,042-number clip vector (``[mean ‖ max]`` scores); see the module docstring."""
        return self.scores(wave).embedding(with_logmel)

    def embed_many(self, waves: Iterable[np.ndarray], with_logmel: bool = False) -> np.ndarray:
        """:meth:`embed` for several clips, stacked ``[N, 1042]`` (or ``1106`` with log-mel)."""
        return np.stack([self.embed(w, with_logmel) for w in waves])

    def top(self, wave: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` classes with the highest mean score, for people to read."""
        mean = self.scores(wave).mean
        return [(self.class_names[i], float(mean[i])) for i in np.argsort(mean)[::-1][:k]]
