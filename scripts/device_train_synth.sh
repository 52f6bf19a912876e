#!/usr/bin/env bash
# Train WaveNet candidates side by side on one lent GPU.
#
# Runs on the device machine from the repository root, with .device/ made by
# scripts/device_bundle.py carried along; OUT is the folder whose files come back.
#   MODE=scratch  (what trained the shipped WaveNet, 2026-11-28): WaveNet + mel prior + emotion
#                 encoder trained jointly from nothing: base, wide (48/96), deep (3 x 8).
#   MODE=finetune (default): the shipped WaveNet fine-tuned with the shipped flow prior and
#                 emotion encoder frozen: plain (as it is), exc (plus a harmonic excitation input,
#                 ml/synth/excitation.py), exc-fast (the same at twice the learning rate).
#   MODE=continue the WaveNet in ml/weights trained further (put a candidate there first),
#                 frozen as in finetune: cont-a (lr 5e-4) and cont-b (lr 1e-3).
# Each runs python -m ml.synth.train_wavenet for MINUTES. Every 30 s the checkpoints (without the
# optimiser, and outside scratch mode without the frozen parts, which ml/weights already holds),
# histories, configs and logs go into one $OUT/runs.tar (the device returns at most 8 files), so a
# run cut short still returns its last checkpoint.
#   usage: OUT=/some/dir MINUTES=7 bash scripts/device_train_synth.sh
#   dry run on a CPU (with the project's venv first on PATH): DEVICE=cpu WHEELS=0 MINUTES=0.3 …
#   (also RUNS=/tmp/runs and CACHE=/tmp/cache; a run folder that exists is resumed, not restarted)
# Exit status: 2 bad MODE or wheels that will not install, 3 the corpus could not be built,
# else that of the last command.
set -uo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n '2,/^set -uo/p' "$0" | sed '$d' | cut -c3-; exit 0; fi
: "${OUT:?set OUT to the folder that comes back}"
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
MODE=${MODE:-finetune}
RUNS=${RUNS:-/tmp/runs}
CACHE=${CACHE:-/tmp/cache}
case $MODE in
  scratch | finetune | continue) ;;
  *) echo "MODE must be scratch, finetune or continue, not $MODE" >&2; exit 2 ;;
esac
if [ "${WHEELS:-1}" = 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .device/whl/*.whl || exit 2
fi
export PYTHONPATH=/tmp/site:$PWD MIAO_SHARED_DIR=$PWD/.device/shared PYTHONUNBUFFERED=1
gpu() { command -v nvidia-smi >/dev/null && nvidia-smi --format=csv,noheader "$@"; }
gpu --query-gpu=name,memory.total
python3 scripts/device_bundle.py --decode-into "$CACHE" || exit 3

train() {  # name, extra args...
  local name=$1; shift
  mkdir -p "$RUNS"
  python3 -m ml.synth.train_wavenet --device "$DEVICE" --threads 4 --cache "$CACHE" \
    --run "$RUNS/$name" --minutes "$MINUTES" --save-every 60 --wave-batch 32 --wave-crop 8000 \
    "$@" >"$RUNS/$name.log" 2>&1
}
case $MODE in
  scratch)
    NAMES="base wide deep"
    common=(--lr 1e-3 --lr-floor 1e-4 --drop-emotion 0.1 --mel-batch 64)
    train base "${common[@]}" &
    train wide "${common[@]}" --prior '{"hidden": 512}' \
      --wavenet '{"residual": 48, "gate": 48, "skip": 96, "out_hidden": 96}' &
    train deep "${common[@]}" --wavenet '{"stacks": 3}' --prior '{"hidden": 384}' &
    ;;
  finetune)
    NAMES="plain exc exc-fast"
    common=(--init-from ml/weights --freeze prior,emotion --warmup 300)
    train plain "${common[@]}" --lr 5e-4 --lr-floor 5e-5 &
    train exc "${common[@]}" --wavenet '{"excitation": 4}' --lr 5e-4 --lr-floor 5e-5 &
    train exc-fast "${common[@]}" --wavenet '{"excitation": 4}' --lr 1e-3 --lr-floor 1e-4 &
    ;;
  continue)
    NAMES="cont-a cont-b"
    common=(--init-from ml/weights --freeze prior,emotion --warmup 100)
    train cont-a "${common[@]}" --lr 5e-4 --lr-floor 5e-5 &
    train cont-b "${common[@]}" --lr 1e-3 --lr-floor 1e-4 &
    ;;
esac

copy_back() {
  NAMES=$NAMES MODE=$MODE RUNS=$RUNS python3 - <<'PY'
import os, tarfile, torch
from pathlib import Path
out, runs = Path(os.environ["OUT"]), Path(os.environ["RUNS"])
drop = ["optimiser"] + (["prior", "emotion"] if os.environ["MODE"] != "scratch" else [])
part = out / "runs.tar.part"
with tarfile.open(part, "w") as tar:
    for name in os.environ["NAMES"].split():
        run = runs / name
        if (run / "checkpoint.pt").is_file():
            state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
            for key in drop:
                state.pop(key, None)
            torch.save(state, runs / f"{name}.slim.pt")
            tar.add(runs / f"{name}.slim.pt", f"{name}/checkpoint.pt")
        for file in ("history.jsonl", "config.json"):
            if (run / file).is_file():
                tar.add(run / file, f"{name}/{file}")
        if (runs / f"{name}.log").is_file():
            tar.add(runs / f"{name}.log", f"{name}/train.log")
part.replace(out / "runs.tar")
PY
}
while [ -n "$(jobs -rp)" ]; do
  sleep 30; copy_back
  gpu --query-gpu=utilization.gpu,memory.used
  for name in $NAMES; do echo "$name: $(tail -n 1 "$RUNS/$name.log")"; done
done
wait
copy_back
for name in $NAMES; do echo "== $name"; tail -n 12 "$RUNS/$name.log"; done
ls -la "$OUT"
