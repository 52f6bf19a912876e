"""Choose a flow prior's sampling settings on seeds the evaluation never uses (1000 and up).

For each ``guidance:temperature`` setting, ``--per-mood`` meows of each of happy, curious and
sleepy are drawn from the flow-prior run's contours and rendered by Griffin-Lim and/or the
WaveNet (the shipped one, or a ``train_wavenet`` run's). Each rendering is judged as ``miao eval
synth`` judges: the shipped ``source`` labeller (called cat), ``cat-emotion`` (mood match among
the three) and YAMNet where ``../shared/models/yamnet`` is present. Prints one row per setting
and renderer, or one JSON object with ``--json``. Exit 1 when a labeller or run is missing.

    python scripts/contour_sweep.py --flow-run var/runs/synth/flow-b --settings 1:1,2:1,3:0.8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ml.registry import ModelNotFoundError, load_labeller
from ml.synth import checkpoint
from ml.synth.emotion import MOODS, mood_index
from ml.synth.eval_synth import (
    EVAL_MOODS,
    SELECTION_FIRST_SEED,
    judge_renderings,
    load_yamnet,
)
from ml.synth.flow_prior import FlowPrior, FlowPriorConfig
from ml.synth.generate import FastGenerator
from ml.synth.mel import griffin_lim, mu_law_decode, peak_normalise
from ml.synth.pipeline import MeowSynthesiser
from ml.synth.wavenet import WaveNet, WaveNetConfig


def load_candidate(flow_run: Path, wavenet_run: Path | None) -> MeowSynthesiser:
    """The shipped synthesiser with the run's flow prior (EMA) and optionally the run's WaveNet."""
    synth = MeowSynthesiser()
    state = checkpoint.load(flow_run / "checkpoint.pt")
    if state is None:
        raise FileNotFoundError(f"no checkpoint.pt in {flow_run}")
    if state["emotion_encoder_id"] != synth.emotion_model_id:
        raise ValueError(f"{flow_run} was trained with another emotion encoder")
    prior = FlowPrior(FlowPriorConfig.from_dict(state["config"]))
    prior.load_state_dict(state["ema"])
    synth.prior = prior.eval()
    if wavenet_run is not None:
        tuned = checkpoint.load(wavenet_run / "checkpoint.pt")
        if tuned is None:
            raise FileNotFoundError(f"no checkpoint.pt in {wavenet_run}")
        wavenet = WaveNet(WaveNetConfig.from_dict(tuned["config"]["wavenet"]))
        wavenet.load_state_dict(tuned["wavenet"])
        synth.wavenet = wavenet.eval()
        synth.generator = FastGenerator(synth.wavenet)
    return synth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flow-run", type=Path, required=True)
    parser.add_argument("--wavenet-run", type=Path, default=None, help="default: the shipped")
    parser.add_argument(
        "--settings", default="2:1", help="guidance:temperature pairs, comma-separated"
    )
    parser.add_argument("--per-mood", type=int, default=10)
    parser.add_argument("--steps", type=int, default=24, help="Euler steps per contour")
    parser.add_argument(
        "--render", default="griffin-lim,wavenet", help="griffin-lim and/or wavenet"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        settings = [tuple(float(x) for x in pair.split(":")) for pair in args.settings.split(",")]
        renders = args.render.split(",")
        if any(len(s) != 2 for s in settings) or set(renders) - {"griffin-lim", "wavenet"}:
            raise ValueError
    except ValueError:
        print(f"error: bad --settings {args.settings!r} or --render {args.render!r}")
        return 2
    try:
        source, emotion = load_labeller("source"), load_labeller("cat-emotion")
        synth = load_candidate(args.flow_run, args.wavenet_run)
    except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    torch.set_num_threads(1)
    yamnet = load_yamnet()
    rows = []
    for guidance, temperature in settings:
        waves: dict[str, list[np.ndarray]] = {r: [] for r in renders}
        asked = []
        for mood in EVAL_MOODS:
            e = synth.emotion_vector(mood, None)
            for seed in range(SELECTION_FIRST_SEED, SELECTION_FIRST_SEED + args.per_mood):
                mel = synth.prior.sample(e, 200, seed, temperature, guidance, args.steps)
                asked.append(MOODS[mood_index(mood)])
                if "griffin-lim" in waves:
                    waves["griffin-lim"].append(peak_normalise(griffin_lim(mel, 32000, seed=seed)))
                if "wavenet" in waves:
                    classes = synth.generator.generate(mel, e, 32000, seed, 1.0)
                    waves["wavenet"].append(np.asarray(mu_law_decode(classes), dtype=np.float32))
        for render, clips in waves.items():
            judged = judge_renderings(clips, asked, source, emotion, yamnet, args.per_mood)
            rows.append(
                {"guidance": guidance, "temperature": temperature, "render": render, **judged}
            )
            if not args.json:
                r = rows[-1]
                print(
                    f"g {guidance:g} T {temperature:g} {render:12s} cat {r['cat_share']:.2f} "
                    f"mood {r['mood_match']:.2f} {r['mood_match_per_mood']} "
                    f"yamnet {r['yamnet_cat_share']} {r['source_labels']}",
                    flush=True,
                )
    if args.json:
        print(
            json.dumps(
                {"flow_run": str(args.flow_run), "seeds_from": SELECTION_FIRST_SEED, "rows": rows}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
