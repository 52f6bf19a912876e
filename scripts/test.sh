#!/usr/bin/env bash
# The whole test suite: lint, Foundry, then pytest. Exit code is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
.venv/bin/ruff check .
echo "== forge test"
bash scripts/forge.sh test
echo "== pytest"
.venv/bin/python -m pytest "$@"
