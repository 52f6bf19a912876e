"""The YAMNet teacher from ../shared/models/yamnet (skipped where the model is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.audio import load_audio
from ml.embeddings import HOP, NUM_CLASSES, WINDOW, Yamnet, YamnetUnavailableError, windows_of


def test_windows_cover_the_whole_clip() -> None:
    assert windows_of(np.ones(100, np.float32)).shape == (1, WINDOW)
    assert windows_of(np.ones(WINDOW, np.float32)).shape == (1, WINDOW)
    wave = np.arange(WINDOW + HOP + 5, dtype=np.float32)
    windows = windows_of(wave)
    assert windows.shape == (3, WINDOW)
    tail = len(wave) - 2 * HOP
    assert windows[2, tail - 1] == wave[-1] and windows[2, tail:].sum() == 0  # zero-padded


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(YamnetUnavailableError, match="not found"):
        Yamnet(tmp_path)


@pytest.fixture(scope="module")
def yamnet(shared_dir: Path) -> Yamnet:
    model_dir = shared_dir / "models" / "yamnet"
    if not (model_dir / "yamnet.tflite").is_file():
        pytest.skip(f"no YAMNet model at {model_dir}")
    return Yamnet(model_dir)


@pytest.mark.shared
def test_known_answers_of_the_model_readme(yamnet: Yamnet) -> None:
    assert yamnet.top(np.zeros(16000, np.float32), k=1)[0][0] == "Silence"
    t = np.arange(16000) / 16000
    beep = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    assert yamnet.top(beep, k=1)[0][0] == "Beep, bleep"


@pytest.mark.shared
def test_pooled_scores_and_embedding(yamnet: Yamnet, shared_dir: Path) -> None:
    bark = load_audio(shared_dir / "data" / "catsdogs" / "dogs" / "dog_barking_23.flac")
    scores = yamnet.scores(bark)
    assert scores.windows.shape[1] == NUM_CLASSES and len(scores.windows) > 5
    assert np.allclose(scores.mean, scores.windows.mean(axis=0))
    assert np.all(scores.max >= scores.mean)
    source = scores.source_scores()
    assert source["dog"] > 0.5 and source["dog"] > source["infant_cry"]
    assert yamnet.embed(bark).shape == (2 * NUM_CLASSES,)
    assert yamnet.embed(bark, with_logmel=True).shape == (2 * NUM_CLASSES + 64,)
    assert np.array_equal(yamnet.embed(bark), yamnet.embed(bark))  # deterministic
