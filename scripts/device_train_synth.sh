#!/usr/bin/env bash
# Train three synthesis candidates side by side on one lent GPU (what trained the shipped WaveNet).
#
# Runs on the device machine from the repository root, with .device/ made by
# scripts/device_bundle.py carried along; OUT is the folder whose files come back. Each candidate
# is a WaveNet + mel prior + emotion encoder trained jointly (python -m ml.synth.train_wavenet)
# for MINUTES; their checkpoints (without the optimiser state, to stay under the 16 MiB a file that
# comes back) and histories are copied to $OUT/<name>/ every 30 s, so a run cut short still
# returns its last checkpoint. The logs are printed at the end.
#   usage: OUT=/some/dir MINUTES=7 bash scripts/device_train_synth.sh
#   dry run on a CPU (with the project's venv first on PATH): DEVICE=cpu WHEELS=0 MINUTES=0.3 …
set -uo pipefail
: "${OUT:?set OUT to the folder that comes back}"
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
if [ "${WHEELS:-1}" = 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .device/whl/*.whl || exit 2
fi
export PYTHONPATH=/tmp/site:$PWD MIAO_SHARED_DIR=$PWD/.device/shared PYTHONUNBUFFERED=1
gpu() { command -v nvidia-smi >/dev/null && nvidia-smi --format=csv,noheader "$@"; }
gpu --query-gpu=name,memory.total
python3 -c "from pathlib import Path; from ml.synth.corpus import load_cats; \
c = load_cats(Path('/tmp/cache'), progress=True, parts=('train', 'val')); print(len(c), 'clips')" \
  || exit 3

train() {  # name, extra args...
  local name=$1; shift
  mkdir -p "$OUT/$name" /tmp/runs
  python3 -m ml.synth.train_wavenet --device "$DEVICE" --threads 4 --cache /tmp/cache \
    --run "/tmp/runs/$name" --minutes "$MINUTES" --save-every 60 --lr 1e-3 --lr-floor 1e-4 \
    --drop-emotion 0.1 --wave-batch 32 --wave-crop 8000 --mel-batch 64 "$@" \
    >"/tmp/runs/$name.log" 2>&1
}
train base &
train wide --wavenet '{"residual": 48, "gate": 48, "skip": 96, "out_hidden": 96}' \
  --prior '{"hidden": 512}' &
train deep --wavenet '{"stacks": 3}' --prior '{"hidden": 384}' &

copy_back() {
  python3 - <<'PY'
import os, shutil, torch
from pathlib import Path
out = Path(os.environ["OUT"])
for name in ("base", "wide", "deep"):
    run = Path("/tmp/runs") / name
    if (run / "checkpoint.pt").is_file():
        state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
        state.pop("optimiser", None)
        torch.save(state, out / name / "checkpoint.part")
        (out / name / "checkpoint.part").replace(out / name / "checkpoint.pt")
    if (run / "history.jsonl").is_file():
        shutil.copy(run / "history.jsonl", out / name / "history.jsonl")
PY
}
while [ -n "$(jobs -rp)" ]; do
  sleep 30; copy_back
  gpu --query-gpu=utilization.gpu,memory.used
  for name in base wide deep; do echo "$name: $(tail -n 1 /tmp/runs/$name.log)"; done
done
wait
copy_back
for name in base wide deep; do echo "== $name"; tail -n 12 "/tmp/runs/$name.log"; done
ls -la "$OUT"/*
