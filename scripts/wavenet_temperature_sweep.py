"""Choose the WaveNet's sampling temperature on clips and seeds the evaluation never uses.

For each temperature, two renderings are judged as ``miao eval synth`` judges them (the shipped
``source`` labeller: called cat; ``cat-emotion``: mood match among happy, curious and sleepy;
YAMNet where ``../shared/models/yamnet`` is present):

- ``meows``: the shipped synthesiser's meows of each mood on seeds 1000 and up (``miao eval
  synth`` uses 0-29), so the mel prior's contours are the same at every temperature;
- ``vocoded``: the own log-mels of naya **validation** clips of each mood (``miao eval synth``
  vocodes test clips), the WaveNet alone.

Prints one row per temperature and rendering, or one JSON object with ``--json``. Exit 1 when a
labeller or the naya data is missing, 2 on a bad ``--temperatures``.

    python scripts/wavenet_temperature_sweep.py --temperatures 1,0.8,0.6 --per-mood 10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from backend.settings import get_settings
from ml.registry import ModelNotFoundError, load_labeller
from ml.synth.corpus import load_cats
from ml.synth.emotion import MOODS, mood_index
from ml.synth.eval_synth import (
    EVAL_MOODS,
    SECONDS,
    SELECTION_FIRST_SEED,
    judge_renderings,
    load_yamnet,
    mood_pool,
)
from ml.synth.mel import frames_for, log_mel, mu_law_decode
from ml.synth.pipeline import MeowSynthesiser


def validation_clips(cache_dir: Path, per_mood: int) -> dict[str, list[np.ndarray]]:
    """The first ``per_mood`` naya validation clips of each mood, cut to the evaluation length."""
    cats = load_cats(cache_dir)
    samples = round(SECONDS * 16000)
    return {
        mood: [cats.wave(i)[:samples] for i in mood_pool(cats, "val", mood, per_mood)]
        for mood in EVAL_MOODS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--temperatures", default="1,0.8,0.6", help="comma-separated, each > 0")
    parser.add_argument("--per-mood", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        temperatures = [float(t) for t in args.temperatures.split(",")]
        if any(t <= 0 for t in temperatures):
            raise ValueError
    except ValueError:
        print(
            f"error: bad --temperatures {args.temperatures!r} (positive numbers, comma-separated)"
        )
        return 2
    try:
        source, emotion = load_labeller("source"), load_labeller("cat-emotion")
        synth = MeowSynthesiser()
        real = validation_clips(get_settings().var_dir / "cache", args.per_mood)
    except (ModelNotFoundError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 1
    torch.set_num_threads(1)
    yamnet = load_yamnet()
    contours = [
        (mood, seed, synth.emotion_vector(mood, None))
        for mood in EVAL_MOODS
        for seed in range(SELECTION_FIRST_SEED, SELECTION_FIRST_SEED + args.per_mood)
    ]
    samples = round(SECONDS * 16000)
    contours = [
        (mood, seed, e, synth.contour(e, frames_for(samples), seed)) for mood, seed, e in contours
    ]
    rows = []
    for temperature in temperatures:
        renders: dict[str, tuple[list[np.ndarray], list[str]]] = {"meows": ([], [])}
        for mood, seed, e, mel in contours:
            classes = synth.generator.generate(mel, e, samples, seed, temperature)
            renders["meows"][0].append(np.asarray(mu_law_decode(classes), dtype=np.float32))
            renders["meows"][1].append(MOODS[mood_index(mood)])
        renders["vocoded"] = ([], [])
        for mood, clips in real.items():
            e = synth.emotion_vector(mood, None)
            for n, wave in enumerate(clips):
                classes = synth.generator.generate(log_mel(wave), e, len(wave), n, temperature)
                renders["vocoded"][0].append(np.asarray(mu_law_decode(classes), dtype=np.float32))
                renders["vocoded"][1].append(MOODS[mood_index(mood)])
        for render, (clips, asked) in renders.items():
            judged = judge_renderings(
                clips, asked, source, emotion, yamnet, len(clips) // len(EVAL_MOODS)
            )
            rows.append(
                {"temperature": temperature, "render": render, "clips": len(clips), **judged}
            )
            if not args.json:
                r = rows[-1]
                print(
                    f"T {temperature:g} {render:8s} cat {r['cat_share']:.2f} "
                    f"mood {r['mood_match']:.2f} {r['mood_match_per_mood']} "
                    f"yamnet {r['yamnet_cat_share']} {r['source_labels']}",
                    flush=True,
                )
    if not args.json:
        originals = [w for clips in real.values() for w in clips]
        share = np.mean([p.label == "cat" for p in source.predict_many(originals)])
        print(f"the validation clips themselves: called cat {share:.2f}")
    else:
        print(json.dumps({"seeds_from": SELECTION_FIRST_SEED, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
