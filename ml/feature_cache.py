"""Features computed once per (file, front end) and kept on disk, so epochs only run the model.

Decoding and resampling cost far more than a small AST's forward pass on two cores; caching
under ``var/cache/features/<front-end tag>/`` makes a second training run start at once. A file's
key covers its path, size and modification time, so an edited file is recomputed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ml.audio import load_audio
from ml.frontend import FrontEnd


def _key(path: Path) -> str:
    stat = path.stat()
    raw = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(raw.encode()).hexdigest()


def cached_features(
    paths: Sequence[Path],
    front_end: FrontEnd,
    cache_dir: Path,
    progress_label: str | None = None,
) -> list[np.ndarray]:
    """The front end's features of every file (float32), computing and storing those missing."""
    folder = cache_dir / "features" / front_end.tag
    folder.mkdir(parents=True, exist_ok=True)
    out: list[np.ndarray | None] = [None] * len(paths)
    missing: list[int] = []
    for i, path in enumerate(paths):
        file = folder / f"{_key(Path(path))}.npy"
        if file.exists():
            out[i] = np.load(file).astype(np.float32)
        else:
            missing.append(i)
    if missing:
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            job = progress.add_task(
                progress_label or f"features {front_end.tag}", total=len(missing)
            )
            for i in missing:
                path = Path(paths[i])
                features = front_end.features(load_audio(path))
                tmp = folder / f".{os.getpid()}-{_key(path)}.npy"
                np.save(tmp, features.astype(np.float16))
                tmp.replace(folder / f"{_key(path)}.npy")
                out[i] = features.astype(np.float16).astype(np.float32)
                progress.advance(job)
    return [x for x in out if x is not None]


def cached_augmented_features(
    paths: Sequence[Path],
    front_end: FrontEnd,
    cache_dir: Path,
    noise_files: Sequence[Path],
    seed: int,
    copy: int,
) -> list[np.ndarray]:
    """Features of one waveform-augmented copy of every file (``ml.augment.WaveAugment``).

    Time stretch, pitch shift, gain and background noise need the wave, so they cannot be drawn
    per batch from cached features; instead each training clip gets ``copy``-numbered augmented
    versions, drawn from ``(seed, copy, file)`` and cached like the clean ones. ``noise_files``
    must leave out the validation and test recordings (see ``background_noise_files``).
    """
    import zlib

    from ml.augment import WaveAugment

    noise_key = hashlib.sha1("|".join(sorted(str(p) for p in noise_files)).encode()).hexdigest()
    folder = cache_dir / "features" / f"{front_end.tag}-aug-s{seed}-c{copy}-{noise_key[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    augment: WaveAugment | None = None
    out: list[np.ndarray] = []
    missing = [i for i, p in enumerate(paths) if not (folder / f"{_key(Path(p))}.npy").exists()]
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        job = progress.add_task(f"augmented copy {copy} {front_end.tag}", total=len(missing))
        for path in paths:
            path = Path(path)
            file = folder / f"{_key(path)}.npy"
            if not file.exists():
                if augment is None:
                    augment = WaveAugment(noise_files, seed=seed)
                augment.rng = np.random.default_rng([seed, copy, zlib.crc32(str(path).encode())])
                features = front_end.features(augment(load_audio(path)))
                tmp = folder / f".{os.getpid()}-{_key(path)}.npy"
                np.save(tmp, features.astype(np.float16))
                tmp.replace(file)
                progress.advance(job)
            out.append(np.load(file).astype(np.float32))
    return out
