"""``scripts/device_bundle.py``: what travels to a lent GPU, and the corpus built from it there."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ml.data import Clip, manifest_clips
from ml.synth.corpus import cat_split_parts, load_cats
from ml.tasks import NAYA_LABELS
from tests.ml.scripts import load_script


def _toy_naya(shared: Path, clips: int = 60) -> None:
    """A naya-shaped dataset of short tones, one group per clip, labels cycling."""
    folder = shared / "data" / "naya"
    rows = []
    for n in range(clips):
        label = NAYA_LABELS[n % len(NAYA_LABELS)]
        path = folder / label / f"clip{n}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(1600) / 16000
        sf.write(path, 0.3 * np.sin(2 * np.pi * (300 + 10 * n) * t), 16000)
        rows.append({"path": f"{label}/clip{n}.wav", "label": label, "group": f"naya:{n}"})
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "group"])
        writer.writeheader()
        writer.writerows(rows)


def test_every_train_clip_and_every_kth_val_clip_travel_and_build_the_training_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = load_script("device_bundle")
    _toy_naya(tmp_path / "shared")
    monkeypatch.setenv("MIAO_SHARED_DIR", str(tmp_path / "shared"))
    clips = manifest_clips("naya")
    by_part: dict[str, list[Clip]] = {"train": [], "val": [], "test": []}
    for clip, part in zip(clips, cat_split_parts(clips), strict=True):
        by_part[part].append(clip)
    counts = {part: len(kept) for part, kept in by_part.items()}
    assert min(counts.values()) >= 3  # the toy set has clips in every part

    out = tmp_path / "bundle"
    bundle.copy_naya(out, val_every=2)
    carried = {p.name for p in (out / "shared" / "data" / "naya").rglob("*.wav")}
    assert not {c.path.name for c in by_part["test"]} & carried
    assert {c.path.name for c in by_part["train"]} <= carried
    assert len(carried) == counts["train"] + (counts["val"] + 1) // 2

    # On the device: the split is the one made over the whole manifest, val is what came.
    monkeypatch.setenv("MIAO_SHARED_DIR", str(out / "shared"))
    assert bundle.decode_present(tmp_path / "cache") == (counts["val"] + 1) // 2
    corpus = load_cats(tmp_path / "cache", parts=("train", "val"))
    assert len(corpus.indices("train")) == counts["train"]
    assert {str(g) for g in corpus.groups[corpus.indices("train")]} == {
        c.group for c in by_part["train"]
    }

    # A train clip that did not come is an error, not a smaller corpus.
    first = by_part["train"][0]
    (out / "shared" / "data" / "naya" / first.label / first.path.name).unlink()
    with pytest.raises(FileNotFoundError, match="1 train clips missing"):
        bundle.decode_present(tmp_path / "cache2")
    assert not (tmp_path / "cache2").exists() or not any((tmp_path / "cache2").iterdir())


def test_val_every_below_one_is_refused(tmp_path: Path) -> None:
    bundle = load_script("device_bundle")
    with pytest.raises(SystemExit) as exit_info:
        bundle.main(["--out", str(tmp_path), "--val-every", "0"])
    assert exit_info.value.code == 2
    assert not any(tmp_path.iterdir())
