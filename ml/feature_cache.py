"""Features computed once per (file, front end) and kept on disk, so epochs only run the model.

Decoding and resampling cost far more than a small AST's forward pass on two cores; caching
under ``var/cache/features/<front-end tag>/`` makes a second training run start at once. A file's
key covers its path, size and modification time, so an edited file is recomputed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ml.audio import AudioError, load_audio
from ml.frontend import FrontEnd


def _key(path: Path) -> str:
    stat = path.stat()
    raw = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(raw.encode()).hexdigest()


def _cached(
    paths: Sequence[Path], folder: Path, compute: Callable[[Path], np.ndarray], label: str
) -> list[np.ndarray]:
    """``compute(path)`` of every file, stored as float16 under ``folder`` and read back."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{_key(Path(path))}.npy" for path in paths]
    missing = [i for i, file in enumerate(files) if not file.exists()]
    if missing:
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            job = progress.add_task(label, total=len(missing))
            for i in missing:
                try:
                    features = compute(Path(paths[i]))
                except AudioError as exc:  # which of thousands of files it was
                    raise type(exc)(f"{paths[i]}: {exc}") from exc
                tmp = folder / f".{os.getpid()}-{files[i].name}"
                np.save(tmp, features.astype(np.float16))
                tmp.replace(files[i])  # atomic: a reader never sees half a file
                progress.advance(job)
    return [np.load(file).astype(np.float32) for file in files]


def cached_features(
    paths: Sequence[Path],
    front_end: FrontEnd,
    cache_dir: Path,
    progress_label: str | None = None,
) -> list[np.ndarray]:
    """The front end's features of every file (float32), computing and storing those missing."""
    return _cached(
        paths,
        cache_dir / "features" / front_end.tag,
        lambda path: front_end.features(load_audio(path)),
        progress_label or f"features {front_end.tag}",
    )


def cached_augmented_features(
    paths: Sequence[Path],
    front_end: FrontEnd,
    cache_dir: Path,
    noise_files: Sequence[Path],
    seed: int,
    copy: int,
    preset: str = "default",
) -> list[np.ndarray]:
    """Features of one waveform-augmented copy of every file (``ml.augment.WaveAugment``).

    Time stretch, pitch shift, gain and background noise need the wave, so they cannot be drawn
    per batch from cached features; instead each training clip gets ``copy``-numbered augmented
    versions, drawn from ``(seed, copy, file)`` and cached like the clean ones. ``noise_files``
    must leave out the validation and test recordings (see ``background_noise_files``).
    """
    import zlib

    from ml.augment import AUG_PRESETS, WaveAugment

    config = AUG_PRESETS[preset]
    if config.noise_p == 0:  # the noise files are never read: copies do not depend on them
        noise_key = "no-noise"
    else:
        noise_key = hashlib.sha1("|".join(sorted(map(str, noise_files))).encode()).hexdigest()
    named = "" if preset == "default" else f"-{preset}"  # the default's caches keep their name
    folder = cache_dir / "features" / f"{front_end.tag}-aug{named}-s{seed}-c{copy}-{noise_key[:8]}"
    augment: WaveAugment | None = None

    def compute(path: Path) -> np.ndarray:
        nonlocal augment
        if augment is None:
            augment = WaveAugment(noise_files, config, seed=seed)
        augment.rng = np.random.default_rng([seed, copy, zlib.crc32(str(path).encode())])
        return front_end.features(augment(load_audio(path)))

    return _cached(paths, folder, compute, f"augmented copy {copy} {front_end.tag}")
