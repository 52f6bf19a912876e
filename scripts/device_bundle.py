"""Pack what synthesis training needs into ``.device/`` for a GPU machine that has no ``../shared``.

The lent GPU machine gets the working tree (64 MiB at most) and nothing beside it: no shared
data, no PyPI. This copies naya's manifest and the audio of its *train and val* clips (the split
is made over the whole manifest, so the test clips stay behind without changing it) and fetches
the wheels ``ml.audio`` needs that the machine's image lacks (soundfile, soxr). ``.device/`` is
git-ignored: the shared data's licences forbid committing it.

With the tracked weights at 32 MiB, all of train and val no longer fit in the 64 MiB that
travels: ``--val-every K`` keeps every K-th val clip (training validates on 8 crops, so a third
of val is plenty). On the device, ``--decode-into CACHE`` builds the corpus cache that
``ml.synth.train_wavenet --cache CACHE`` reads from what is there: every train clip (a missing
one is an error) and the val clips that came.

    python scripts/device_bundle.py --val-every 3    # then carry .device, with MIAO_SHARED_DIR=.device/shared
    python3 scripts/device_bundle.py --decode-into /tmp/cache     # on the device
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ml.data import data_dir, manifest_clips
from ml.synth.corpus import cache_cats, cat_split_parts
from ml.synth.train_wavenet import CROP_PARTS

WHEEL_NAMES = ("soundfile", "soxr", "cffi", "pycparser")
"""What ``ml.audio`` imports that the GPU image lacks, at the versions installed here."""
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def copy_naya(out: Path, val_every: int = 1) -> int:
    """Copy the manifest, the train audio and every ``val_every``-th val clip; the bytes copied."""
    source = data_dir() / "naya"
    target = out / "shared" / "data" / "naya"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "manifest.csv", target / "manifest.csv")
    clips = manifest_clips("naya")
    total, val_seen = 0, 0
    for clip, part in zip(clips, cat_split_parts(clips), strict=True):
        if part not in CROP_PARTS:
            continue
        if part == "val":
            val_seen += 1
            if (val_seen - 1) % val_every:
                continue
        dest = target / clip.path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip.path, dest)
        total += dest.stat().st_size
    return total


def decode_present(cache: Path) -> int:
    """Write the cache ``load_cats(cache, parts=CROP_PARTS)`` reads, from the clips that came.

    Every train clip must be there; val keeps the clips the bundle carried. Returns the number
    of val clips kept.
    """
    clips = manifest_clips("naya")
    kept = [
        (clip, part)
        for clip, part in zip(clips, cat_split_parts(clips), strict=True)
        if part == "train" or (part == "val" and clip.path.is_file())
    ]
    missing = [str(c.path) for c, part in kept if part == "train" and not c.path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} train clips missing, e.g. {missing[0]}")
    corpus = cache_cats(cache, kept, CROP_PARTS, progress=True)
    return len(corpus.indices("val"))


def fetch_wheels(out: Path, python_version: str) -> None:
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--python-version", python_version, "--implementation", "cp", *platform_args,
         "-d", str(out / "whl"), *(f"{name}=={version(name)}" for name in WHEEL_NAMES)],
        check=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".device"))
    parser.add_argument("--python", default="3.12", help="the GPU machine's Python version")
    parser.add_argument("--val-every", type=int, default=1, help="carry every K-th val clip")
    parser.add_argument(
        "--decode-into", type=Path, default=None, help="on the device: build the corpus cache"
    )
    args = parser.parse_args(argv)
    if args.val_every < 1:
        parser.error("--val-every must be at least 1")
    if args.decode_into is not None:
        val = decode_present(args.decode_into)
        print(f"{args.decode_into}: corpus cache with every train clip and {val} val clips")
        return 0
    copied = copy_naya(args.out, args.val_every)
    fetch_wheels(args.out, args.python)
    print(f"{args.out}: naya train+val {copied / 2**20:.1f} MiB, wheels in {args.out / 'whl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
