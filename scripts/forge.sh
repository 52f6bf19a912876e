#!/usr/bin/env bash
# Run forge (from npm) on contracts/ with the solc-js shim as its compiler, offline.
# Usage: bash scripts/forge.sh test [-vvv] [--gas-report] ... (any forge subcommand and flags)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
forge="$root/node_modules/.bin/forge"
shim="$root/contracts/scripts/solc-shim.js"
if [ ! -x "$forge" ]; then
  echo "forge.sh: $forge is missing; run scripts/setup.sh (npm install)" >&2
  exit 127
fi
cd "$root/contracts"
case "${1:-}" in
  build | test | snapshot | coverage)
    exec "$forge" "$@" --use "$shim" --offline
    ;;
  *)
    exec "$forge" "$@"
    ;;
esac
