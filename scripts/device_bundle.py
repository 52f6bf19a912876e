"""Pack what synthesis training needs into ``.device/`` for a GPU machine that has no ``../shared``.

The lent GPU machine gets the working tree (64 MiB at most) and nothing beside it: no shared
data, no PyPI. This copies naya's manifest and the audio of its *train and val* clips (the split
is made over the whole manifest, so the test clips stay behind without changing it) and fetches
the wheels ``ml.audio`` needs that the machine's image lacks (soundfile, soxr). ``.device/`` is
git-ignored: the shared data's licences forbid committing it.

    python scripts/device_bundle.py            # then carry .device, with MIAO_SHARED_DIR=.device/shared
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ml.data import data_dir, manifest_clips
from ml.synth.corpus import cat_split_parts
from ml.synth.train_wavenet import CROP_PARTS

WHEEL_NAMES = ("soundfile", "soxr", "cffi", "pycparser")
"""What ``ml.audio`` imports that the GPU image lacks, at the versions installed here."""
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def copy_naya(out: Path) -> int:
    """Copy the manifest and the train/val audio; returns the bytes copied."""
    source = data_dir() / "naya"
    target = out / "shared" / "data" / "naya"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "manifest.csv", target / "manifest.csv")
    clips = manifest_clips("naya")
    total = 0
    for clip, part in zip(clips, cat_split_parts(clips), strict=True):
        if part not in CROP_PARTS:
            continue
        dest = target / clip.path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip.path, dest)
        total += dest.stat().st_size
    return total


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
    args = parser.parse_args(argv)
    copied = copy_naya(args.out)
    fetch_wheels(args.out, args.python)
    print(f"{args.out}: naya train+val {copied / 2**20:.1f} MiB, wheels in {args.out / 'whl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
