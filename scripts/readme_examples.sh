#!/usr/bin/env bash
# Regenerate the README's synthesis examples (docs/examples) with the shipped models.
# Needs ../shared (or MIAO_SHARED_DIR) for the held-out speaker's digits.
set -euo pipefail
cd "$(dirname "$0")/.."
MIAO=${MIAO:-.venv/bin/miao}
PY=${PY:-.venv/bin/python}
OUTDIR=docs/examples
$MIAO synth --mood happy --seconds 2 --seed 7 -o $OUTDIR/synth-happy-seed7.wav
$MIAO synth --mood sleepy --seconds 2 --seed 3 -o $OUTDIR/synth-sleepy-seed3.wav
$MIAO synth --mood curious --seconds 2 --seed 5 -o $OUTDIR/synth-curious-seed5.wav
# Held-out speaker theo saying "3 1 4" (speech-fsdd, CC BY-SA 4.0), 0.1 s apart.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
VOICE=$TMP/theo-314.wav
$PY - "$VOICE" <<'PY'
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from miao.commands.synth import write_outputs
from ml.audio import load_audio
from ml.data import data_dir

folder = data_dir() / "speech-fsdd" / "audio"
gap = np.zeros(1600, dtype=np.float32)
parts = [np.concatenate([load_audio(folder / f"{d}_theo_0.flac"), gap]) for d in (3, 1, 4)]
voice = np.concatenate(parts)
sf.write(sys.argv[1], voice, 16000)
write_outputs(voice, Path("docs/examples/catify-theo-314-input.wav"), "held-out speaker theo: 3 1 4")
PY
rm -f $OUTDIR/catify-theo-314-input.wav  # only its spectrogram is kept
$MIAO catify "$VOICE" --mood happy -o $OUTDIR/catify-theo-314.wav
