"""Training audio for the synthesis models, decoded once and cached as int16 arrays.

``cats``: every naya clip (the mood labels) with a group split (seed 0, 70/15/15 by the manifest
group, so near-duplicate clusters never straddle parts). ``voices``: speech-fsdd, split by
speaker: :data:`HELD_OUT_SPEAKERS` never reach training and are what ``miao eval synth``
style-transfers. Clips are peak-normalised to 0.9 (levels differ wildly between web clips).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.audio import load_audio
from ml.data import Clip, group_split, manifest_clips
from ml.synth.mel import peak_normalise
from ml.tasks import NAYA_LABELS

HELD_OUT_SPEAKERS = ("theo", "yweweler")
MAX_CLIP_SECONDS = 8.0


@dataclass
class Corpus:
    """Clips as one int16 array with offsets, plus each clip's label index, group and part."""

    audio: np.ndarray  # int16, all clips back to back
    offsets: np.ndarray  # int64 [n + 1]
    labels: np.ndarray  # int64 [n] (index into NAYA_LABELS for cats, the digit for voices)
    parts: np.ndarray  # str [n]: train / val / test
    groups: np.ndarray  # str [n]

    def __len__(self) -> int:
        return len(self.labels)

    def wave(self, i: int) -> np.ndarray:
        return self.audio[self.offsets[i] : self.offsets[i + 1]].astype(np.float32) / 32767.0

    def indices(self, *parts: str) -> np.ndarray:
        return np.flatnonzero(np.isin(self.parts, parts))

    def speakers(self, indices: np.ndarray) -> np.ndarray:
        """The speaker of each voice clip (its group, ``speech-fsdd:<speaker>``)."""
        return np.array([speaker_of(str(g)) for g in self.groups[indices]])


def speaker_of(group: str) -> str:
    """A speech-fsdd group names its speaker after the dataset prefix."""
    return group.split(":")[-1]


def _build(clips: list[Clip], labels: list[int], parts: list[str], progress: bool) -> Corpus:
    chunks, offsets = [], [0]
    for n, clip in enumerate(clips):
        wave = peak_normalise(load_audio(clip.path, max_seconds=MAX_CLIP_SECONDS))
        chunks.append(np.round(wave * 32767).astype(np.int16))
        offsets.append(offsets[-1] + len(wave))
        if progress and n % 250 == 0:
            print(f"decoded {n}/{len(clips)}", flush=True)
    return Corpus(
        audio=np.concatenate(chunks),
        offsets=np.asarray(offsets, dtype=np.int64),
        labels=np.asarray(labels, dtype=np.int64),
        parts=np.asarray(parts),
        groups=np.asarray([c.group for c in clips]),
    )


def _cached(path: Path, build: callable) -> Corpus:  # type: ignore[valid-type]
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return Corpus(**{k: data[k] for k in ("audio", "offsets", "labels", "parts", "groups")})
    corpus = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **corpus.__dict__)
    tmp.replace(path)
    return corpus


def cat_split_parts(clips: list[Clip]) -> list[str]:
    """The part (train/val/test) of each naya clip under the fixed synthesis split."""
    split = group_split(clips, seed=0)
    part_of = {c.path: name for name, part in split.parts().items() for c in part}
    return [part_of[c.path] for c in clips]


def load_cats(
    cache_dir: Path, progress: bool = False, parts: tuple[str, ...] | None = None
) -> Corpus:
    """naya clips with mood labels and the fixed group split (cached).

    ``parts`` keeps only those parts of the split (the split itself is always made over the
    whole manifest), so training can run where the test clips' audio is absent.
    """

    def build() -> Corpus:
        clips = manifest_clips("naya")
        split = cat_split_parts(clips)
        kept = [(clip, part) for clip, part in zip(clips, split, strict=True)
                if parts is None or part in parts]  # fmt: skip
        return _build_cats(kept, progress)

    return _cached(_cats_cache(cache_dir, parts), build)


def cache_cats(
    cache_dir: Path,
    kept: list[tuple[Clip, str]],
    parts: tuple[str, ...] | None,
    progress: bool = False,
) -> Corpus:
    """The cache :func:`load_cats` reads for ``parts``, built from ``kept`` (clip, part) if absent.

    :func:`load_cats` keeps every clip of those parts; a machine that holds only some of them
    (``scripts/device_bundle.py``) builds the same cache from what it has.
    """
    return _cached(_cats_cache(cache_dir, parts), lambda: _build_cats(kept, progress))


def _cats_cache(cache_dir: Path, parts: tuple[str, ...] | None) -> Path:
    return cache_dir / (
        "synth-naya.npz" if parts is None else f"synth-naya-{'-'.join(sorted(parts))}.npz"
    )


def _build_cats(kept: list[tuple[Clip, str]], progress: bool) -> Corpus:
    labels = [NAYA_LABELS.index(clip.label) for clip, _ in kept]
    return _build([c for c, _ in kept], labels, [part for _, part in kept], progress)


def load_voices(cache_dir: Path, progress: bool = False) -> Corpus:
    """speech-fsdd, part ``test`` = the held-out speakers, ``train`` = the others (cached)."""

    def build() -> Corpus:
        clips = manifest_clips("speech-fsdd")
        parts = ["test" if speaker_of(c.group) in HELD_OUT_SPEAKERS else "train" for c in clips]
        return _build(clips, [int(c.label) for c in clips], parts, progress)

    return _cached(cache_dir / "synth-fsdd.npz", build)
