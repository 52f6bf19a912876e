"""Pick the voice-to-cat strength on training speakers only (never the evaluation's speakers).

``--run`` judges a ``train_style`` run instead of the shipped generator, and ``--speakers``
limits the clips to some training speakers: a run trained with ``--skip-speakers nicolas`` is
validated on ``--speakers nicolas``, a voice it never heard, without touching the held-out ones.

For each strength, 30 style transfers of speech-fsdd clips from the speakers the style GAN
trained on (moods cycling happy, curious, sleepy, as in ``miao eval synth``) are labelled by the
shipped ``source`` model, and by YAMNet where ``../shared/models/yamnet`` is present. Prints one
row per strength, or one JSON object with ``--json``. Exit 1 when the ``source`` model is missing.

    python scripts/style_strength_sweep.py --strengths 1,2,3,4,5
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from backend.settings import get_settings
from ml.registry import WEIGHTS_DIR, ModelNotFoundError, load_labeller
from ml.synth.corpus import load_voices
from ml.synth.eval_synth import catify_all, load_yamnet, yamnet_cat_share
from ml.synth.pipeline import EMOTION_DIR, VoiceToCat
from ml.synth.ship import write_style_generator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strengths", default="1,2,3,4,5", help="comma-separated strengths")
    parser.add_argument("--clips", type=int, default=30, help="transfers per strength")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--speakers",
        default="",
        help="comma-separated training speakers whose clips are transferred (default: all four)",
    )
    parser.add_argument(
        "--run",
        type=Path,
        default=None,
        help="judge this train_style run's generator instead of the shipped one",
    )
    args = parser.parse_args(argv)
    try:
        strengths = [float(s) for s in args.strengths.split(",")]
        source = load_labeller("source")
    except ValueError:
        print(f"error: --strengths takes numbers like 1,2.5,3, not {args.strengths!r}")
        return 2
    except ModelNotFoundError as exc:
        print(f"error: {exc}")
        return 1
    voices = load_voices(get_settings().var_dir / "cache")
    pool = voices.indices("train")
    if args.speakers:
        wanted = args.speakers.split(",")
        pool = pool[np.isin(voices.speakers(pool), wanted)]
        if not len(pool):
            print(f"error: --speakers {args.speakers!r}: no training speaker of that name")
            return 2
    chosen = np.random.default_rng(1).choice(pool, size=min(args.clips, len(pool)), replace=False)
    inputs = [voices.wave(int(i)) for i in chosen]
    yamnet = load_yamnet()
    with tempfile.TemporaryDirectory() as root:
        if args.run is not None:  # the run's generator beside the shipped emotion encoder
            write_style_generator(args.run, Path(root), 1.0)
            shutil.copytree(WEIGHTS_DIR / EMOTION_DIR, Path(root) / EMOTION_DIR)
        style = VoiceToCat(Path(root) if args.run is not None else None)
    rows = []
    for strength in strengths:
        outs, rhythm_r = catify_all(style, inputs, strength)
        labels = [p.label for p in source.predict_many(outs)]
        rows.append(
            {
                "strength": strength,
                "cat_share": labels.count("cat") / len(labels),
                "labels": {k: labels.count(k) for k in sorted(set(labels))},
                "rhythm_r": rhythm_r,
                "yamnet_cat_share": yamnet_cat_share(yamnet, outs) if yamnet else None,
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"strength {strength:g}: cat {r['cat_share']:.2f} {r['labels']} "
                f"rhythm_r {r['rhythm_r']:.2f} yamnet cat {r['yamnet_cat_share']}",
                flush=True,
            )
    if args.json:
        print(
            json.dumps(
                {"source_model": source.model_id, "style_model": style.model_id, "rows": rows}
            )
        )
    else:
        print(f"judge: source model {source.model_id[:12]}…; generator {style.model_id[:12]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
