#!/usr/bin/env python
"""Check a ``source`` model for the length/padding shortcut (issue 4 follow-up).

The first shipped ``source`` model called 2 s of white noise ``cat`` and 0.3 s crops of real
cats ``human_speech``: it had learned clip length (spoken digits are all short, cries and noise
long). This script measures, for a model folder (shipped weights or a training run):

- synthetic sounds that are no animal: white noise, digital silence and pure tones, 0.3-5 s
  (seeds far from the ones training draws its negatives from) -> share called ``cat``;
- real cat clips of the *validation* split cropped to 0.3, 1 and 3 s around their loudest part
  -> share still called ``cat`` (and the full clips, for reference);
- real non-cat, non-speech clips (dog, infant_cry, other) of the validation split cropped to
  0.3 s -> share called ``human_speech`` (the other side of the shortcut).

Usage: ``.venv/bin/python scripts/ml_shortcut_check.py [--model DIR] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.audio import load_audio
from ml.negatives import negative_wave
from ml.preprocess import loudest_crop
from ml.registry import WEIGHTS_DIR, Labeller

SYNTH_KINDS = ("white", "silence", "tone")
SYNTH_SECONDS = (0.3, 0.5, 1.0, 2.0, 3.0, 5.0)
CROP_SECONDS = (0.3, 1.0, 3.0)
CHECK_SEED = 987_654  # training negatives use the run's seed (small numbers)


def synthetic_rates(labeller: Labeller, repeats: int = 5) -> dict[str, dict[str, object]]:
    """Per kind and length: share called cat, and the labels given."""
    rng = np.random.default_rng(CHECK_SEED)
    out: dict[str, dict[str, object]] = {}
    for kind in SYNTH_KINDS:
        for seconds in SYNTH_SECONDS:
            waves = [negative_wave(kind, seconds, rng) for _ in range(repeats)]
            labels = [p.label for p in labeller.predict_many(waves)]
            out[f"{kind} {seconds:g}s"] = {
                "cat_rate": labels.count("cat") / len(labels),
                "other_rate": labels.count("other") / len(labels),
                "labels": dict(Counter(labels)),
            }
    return out


def _val_clips(folder: Path, labels: tuple[str, ...], n: int, seed: int) -> list[Path]:
    from ml.data import read_split
    from ml.train import make_split

    split_csv = folder / "split.csv"
    split = read_split(split_csv) if split_csv.is_file() else make_split("source", 0)
    clips = [c.path for c in split.val if c.label in labels]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(clips), size=min(n, len(clips)), replace=False)
    return [clips[i] for i in sorted(picked)]


def crop_rates(
    labeller: Labeller, paths: list[Path], target: str, seconds: tuple[float, ...]
) -> dict[str, dict[str, float | int]]:
    """Share of crops (loudest part) of each length called ``target``; ``full`` = whole clip."""
    waves = [load_audio(p) for p in paths]
    out: dict[str, dict[str, float | int]] = {}
    for name, length in [("full", None), *((f"{s:g}s", s) for s in seconds)]:
        crops = [w if length is None else loudest_crop(w, length) for w in waves]
        kept = [c for c in crops if c is not None]
        if not kept:
            continue
        labels = [p.label for p in labeller.predict_many(kept)]
        out[name] = {"n": len(kept), "rate": labels.count(target) / len(kept)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=WEIGHTS_DIR / "source", help="Model folder (weights/run)."
    )
    parser.add_argument("--cats", type=int, default=150, help="Validation cat clips to crop.")
    parser.add_argument("--others", type=int, default=90, help="Val dog/cry/other clips.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args(argv)

    labeller = Labeller(args.model)
    if labeller.task != "source":
        parser.error(f"{args.model} holds a {labeller.task!r} model, not source")
    synth = synthetic_rates(labeller)
    cats = crop_rates(labeller, _val_clips(args.model, ("cat",), args.cats, 1), "cat", CROP_SECONDS)
    others = crop_rates(
        labeller,
        _val_clips(args.model, ("dog", "infant_cry", "other"), args.others, 2),
        "human_speech",
        (0.3,),
    )
    synth_cat = float(np.mean([v["cat_rate"] for v in synth.values()]))
    synth_other = float(np.mean([v["other_rate"] for v in synth.values()]))
    result = {
        "model": str(args.model),
        "model_id": labeller.model_id,
        "synthetic_called_cat": synth_cat,
        "synthetic_called_other": synth_other,
        "synthetic": synth,
        "val_cats_called_cat": cats,
        "val_non_cat_called_human_speech": others,
    }
    print(f"model {args.model} ({labeller.model_id[:12]})")
    print(
        f"synthetic (white noise, silence, tone; 0.3-5 s) called cat: {synth_cat:.2f}, "
        f"other: {synth_other:.2f}"
    )
    for name, value in synth.items():
        print(f"  {name:<13} cat {value['cat_rate']:.2f}  {value['labels']}")
    print("validation cat clips still called cat:")
    for name, value in cats.items():
        print(f"  {name:<5} n={value['n']:<4} {value['rate']:.2f}")
    print("validation dog/infant_cry/other clips called human_speech:")
    for name, value in others.items():
        print(f"  {name:<5} n={value['n']:<4} {value['rate']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
