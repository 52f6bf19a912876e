"""Features computed once per (file, front end) and kept on disk (``ml.feature_cache``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ml.audio import encode_wav
from ml.feature_cache import cached_augmented_features, cached_features
from ml.frontend import FrontEnd


def _wav(path: Path, seed: int, seconds: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * (300 + 100 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    path.write_bytes(encode_wav(wave.astype(np.float32)))
    return path


def test_features_are_stored_once_and_recomputed_when_the_file_changes(tmp_path: Path) -> None:
    front = FrontEnd("mfcc")
    clip = _wav(tmp_path / "a.wav", 0)
    first = cached_features([clip], front, tmp_path / "cache")[0]
    stored = list((tmp_path / "cache" / "features" / front.tag).glob("*.npy"))
    assert len(stored) == 1 and first.dtype == np.float32
    np.save(stored[0], np.zeros((3, 40), np.float16))  # what is on disk is what is read back
    assert cached_features([clip], front, tmp_path / "cache")[0].shape == (3, 40)
    _wav(clip, 1)  # another sound: new size/mtime, so a new key
    os.utime(clip, ns=(1, 1))
    again = cached_features([clip], front, tmp_path / "cache")[0]
    assert again.shape == first.shape and not np.allclose(again, first)


def test_augmented_copies_are_seeded_per_copy_and_kept_apart(tmp_path: Path) -> None:
    front = FrontEnd("mfcc")
    clips = [_wav(tmp_path / f"{i}.wav", i) for i in range(2)]
    noise = [_wav(tmp_path / "noise.wav", 7, seconds=2.0)]
    cache = tmp_path / "cache"
    clean = cached_features(clips, front, cache)
    copy0 = cached_augmented_features(clips, front, cache, noise, seed=0, copy=0)
    copy1 = cached_augmented_features(clips, front, cache, noise, seed=0, copy=1)
    fresh = cached_augmented_features(clips, front, tmp_path / "other", noise, seed=0, copy=0)
    assert all(np.array_equal(a, b) for a, b in zip(copy0, fresh, strict=True))  # seeded
    assert any(not np.allclose(a, b) for a, b in zip(copy0, copy1, strict=True))
    assert any(not np.allclose(a, b) for a, b in zip(copy0, clean, strict=True))
    assert len(list((cache / "features").iterdir())) == 3  # clean, copy 0, copy 1
