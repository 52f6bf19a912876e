"""The synthesis corpus: decoding only some parts keeps the split made over the whole manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.data import manifest_clips
from ml.synth.corpus import cat_split_parts, load_cats
from ml.tasks import NAYA_LABELS


def test_load_cats_keeps_only_the_asked_parts(shared_dir: Path, tmp_path: Path) -> None:
    clips = manifest_clips("naya", shared_dir)
    split = cat_split_parts(clips)
    expected = [c for c, part in zip(clips, split, strict=True) if part == "val"]
    corpus = load_cats(tmp_path, parts=("val",))
    assert len(corpus) == len(expected) > 0
    assert set(corpus.parts.tolist()) == {"val"}
    assert corpus.groups.tolist() == [c.group for c in expected]
    assert corpus.labels.tolist() == [NAYA_LABELS.index(c.label) for c in expected]
    # Cached under its own name: the full corpus is not mistaken for it, nor it for the full one.
    assert (tmp_path / "synth-naya-val.npz").is_file()
    assert not (tmp_path / "synth-naya.npz").exists()
    again = load_cats(tmp_path, parts=("val",))
    assert np.array_equal(again.audio, corpus.audio)
