#!/usr/bin/env python
"""Check a ``source`` or ``dog-bark`` model for the length/padding shortcut (issue 4 follow-up).

The first shipped ``source`` model called 2 s of white noise ``cat`` and 0.3 s crops of real
cats ``human_speech``: it had learned clip length (spoken digits are all short, cries and noise
long). ``dog-bark`` had learned the same (0.3 s crops of barks were never ``bark``). This script
measures, for a model folder (shipped weights or a training run), with the task's *positive*
label (``cat`` for source, ``bark`` for dog-bark):

- synthetic sounds that are no animal: white noise, digital silence and pure tones, 0.3-5 s
  (seeds far from the ones training draws its negatives from) -> share called the positive label;
- real clips of the positive label from the *validation* split cropped to 0.3, 1 and 3 s around
  their loudest part -> share still called it (and the full clips, for reference);
- real clips of the other labels (source: dog, infant_cry, other; dog-bark: non_bark) cropped to
  0.3 s -> share called the label short clips drift to (source: human_speech; dog-bark: bark);
- the same validation clips of the positive label band-limited to 4 kHz, as an 8 kHz phone
  records them -> share still called it (what a model that keeps the 16 kHz band must not lose).

Usage: ``.venv/bin/python scripts/ml_shortcut_check.py [--model DIR] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.audio import load_audio
from ml.frontend import FrontEnd
from ml.negatives import negative_wave
from ml.preprocess import loudest_crop
from ml.registry import WEIGHTS_DIR, Labeller

SYNTH_KINDS = ("white", "silence", "tone")
SYNTH_SECONDS = (0.3, 0.5, 1.0, 2.0, 3.0, 5.0)
CROP_SECONDS = (0.3, 1.0, 3.0)
CHECK_SEED = 987_654  # training negatives use the run's seed (small numbers)
PHONE_BAND_HZ = 4000  # the band-limited probe: what an 8 kHz recording holds


@dataclass(frozen=True)
class ShortcutProbe:
    """Where a task's length shortcut shows: which label long noise and short crops drift to."""

    positive: str  # real clips of it must keep it when cropped; noise must not get it
    negative: str  # the label noise, silence and tones should get
    short_from: tuple[str, ...]  # labels whose 0.3 s crops are checked ...
    short_to: str  # ... for being called this


PROBES = {
    "source": ShortcutProbe("cat", "other", ("dog", "infant_cry", "other"), "human_speech"),
    "dog-bark": ShortcutProbe("bark", "non_bark", ("non_bark",), "bark"),
}


def synthetic_rates(
    labeller: Labeller, probe: ShortcutProbe, repeats: int = 5
) -> dict[str, dict[str, object]]:
    """Per kind and length: share called the positive and the negative label, and all labels."""
    rng = np.random.default_rng(CHECK_SEED)
    out: dict[str, dict[str, object]] = {}
    for kind in SYNTH_KINDS:
        for seconds in SYNTH_SECONDS:
            waves = [negative_wave(kind, seconds, rng) for _ in range(repeats)]
            labels = [p.label for p in labeller.predict_many(waves)]
            out[f"{kind} {seconds:g}s"] = {
                "positive_rate": labels.count(probe.positive) / len(labels),
                "negative_rate": labels.count(probe.negative) / len(labels),
                "labels": dict(Counter(labels)),
            }
    return out


def _val_clips(folder: Path, task: str, labels: tuple[str, ...], n: int, seed: int) -> list[Path]:
    from ml.data import read_split
    from ml.train import make_split

    split_csv = folder / "split.csv"
    split = read_split(split_csv) if split_csv.is_file() else make_split(task, 0)
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


def band_limited(wave: np.ndarray) -> np.ndarray:
    """The clip as an 8 kHz recording would hold it: through 8 kHz and back to 16 kHz."""
    return FrontEnd(band_limit_hz=PHONE_BAND_HZ).condition(wave)


def band_limited_rate(labeller: Labeller, paths: list[Path], target: str) -> dict[str, float | int]:
    """Share of whole clips called ``target`` after a round trip through 8 kHz."""
    waves = [band_limited(load_audio(p)) for p in paths]
    labels = [p.label for p in labeller.predict_many(waves)]
    return {"n": len(waves), "rate": labels.count(target) / max(len(waves), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, default=WEIGHTS_DIR / "source", help="Model folder (weights/run)."
    )
    parser.add_argument(
        "--positives", type=int, default=150, help="Validation clips of the positive label."
    )
    parser.add_argument("--others", type=int, default=90, help="Validation clips of the rest.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args(argv)

    labeller = Labeller(args.model)
    probe = PROBES.get(labeller.task)
    if probe is None:
        parser.error(f"{args.model} holds a {labeller.task!r} model; checked: {', '.join(PROBES)}")
    task, positive = labeller.task, probe.positive
    synth = synthetic_rates(labeller, probe)
    positives = _val_clips(args.model, task, (positive,), args.positives, 1)
    kept = crop_rates(labeller, positives, positive, CROP_SECONDS)
    kept["full, 4 kHz"] = band_limited_rate(labeller, positives, positive)
    drifted = crop_rates(
        labeller,
        _val_clips(args.model, task, probe.short_from, args.others, 2),
        probe.short_to,
        (0.3,),
    )
    synth_positive = float(np.mean([v["positive_rate"] for v in synth.values()]))
    synth_negative = float(np.mean([v["negative_rate"] for v in synth.values()]))
    result = {
        "model": str(args.model),
        "model_id": labeller.model_id,
        "task": task,
        "positive": positive,
        "synthetic_called_positive": synth_positive,
        "synthetic_called_negative": synth_negative,
        "synthetic": synth,
        "val_positive_kept": kept,
        "val_short_crops_called": {"label": probe.short_to, "from": list(probe.short_from)}
        | drifted,
    }
    print(f"model {args.model} ({task}, {labeller.model_id[:12]})")
    print(
        f"synthetic (white noise, silence, tone; 0.3-5 s) called {positive}: "
        f"{synth_positive:.2f}, {probe.negative}: {synth_negative:.2f}"
    )
    for name, value in synth.items():
        print(f"  {name:<13} {positive} {value['positive_rate']:.2f}  {value['labels']}")
    print(f"validation {positive} clips still called {positive}:")
    for name, value in kept.items():
        print(f"  {name:<11} n={value['n']:<4} {value['rate']:.2f}")
    print(f"validation {'/'.join(probe.short_from)} clips called {probe.short_to}:")
    for name, value in drifted.items():
        print(f"  {name:<5} n={value['n']:<4} {value['rate']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
