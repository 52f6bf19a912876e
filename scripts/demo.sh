#!/usr/bin/env bash
# `make demo`: start the local stack (`miao dev`) in the background, wait until /v1/health says
# every dependency answers, run `miao demo` (arguments are passed on, e.g. a FILE), stop the stack.
# Exit code: miao demo's (0 = labelled on-chain), or 2 when the stack did not come up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
API="http://${MIAO_API_HOST:-127.0.0.1}:${MIAO_API_PORT:-8000}"
LOG=var/logs/dev.log
mkdir -p var/logs

$PY -m miao dev >"$LOG" 2>&1 &
DEV_PID=$!
stop_stack() {
  if kill -0 "$DEV_PID" 2>/dev/null; then
    echo "stopping the local stack"
    kill -TERM "$DEV_PID" 2>/dev/null || true
    wait "$DEV_PID" 2>/dev/null || true
  fi
}
trap stop_stack EXIT
trap 'exit 130' INT TERM

echo "starting the local stack: chain, IPFS node, Redis, indexer, worker, API (log $LOG)"
healthy() {
  $PY - "$API" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/v1/health", timeout=2) as reply:
        sys.exit(0 if json.load(reply)["status"] == "ok" else 1)
except Exception:
    sys.exit(1)
PY
}
for _ in $(seq 1 180); do
  if ! kill -0 "$DEV_PID" 2>/dev/null; then
    echo "miao dev exited:" >&2
    tail -n 30 "$LOG" >&2
    exit 2
  fi
  if healthy; then
    echo "stack is up at $API"
    $PY -m miao demo --api-url "$API" "$@"
    exit $?
  fi
  sleep 1
done
echo "the stack did not become healthy within 180 s:" >&2
tail -n 30 "$LOG" >&2
exit 2
