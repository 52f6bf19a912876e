#!/usr/bin/env bash
# Install everything MIAO AI needs on a Debian machine with Python 3.11 and Node 20:
# Debian packages that are missing, a virtualenv with the project, the npm tooling, the DApp page.
# Idempotent and quick when nothing changed (stamp files under .venv/ and node_modules/).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# 1. Debian packages, only those whose command is missing.
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/chromium ] || need+=(chromium)  # the DApp's browser test (tests/web)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    log "warning: missing ${need[*]} and cannot apt-get install them (not root or not Debian)"
  fi
fi

# 2. Python virtualenv with the project (editable) and its dev tools.
stamp=.venv/.miao-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PY"
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install -e .[dev] (torch is pinned to the 2.13.0 CPU build)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

# 3. npm tooling: anvil, forge, solc-js, OpenZeppelin, the IPFS node; viem, vite, playwright-core.
nstamp=node_modules/.miao-installed
nwant=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat "$nstamp" 2>/dev/null)" != "$nwant" ]; then
  log "npm install"
  # `npm install`, not `npm ci`: the ipfs tree has an optional dependency on a GitHub tarball that
  # cannot be fetched here; `npm install` skips it as optional while `npm ci` refuses the lock.
  npm install --no-audit --no-fund
  nwant=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  echo "$nwant" > "$nstamp"
fi

# 4. The DApp page: web/ built into web/dist/ (served by the API at /), when its sources changed.
wstamp=node_modules/.miao-web-built
wwant=$( (cat package.json package-lock.json; find web -path web/dist -prune -o -type f -print0 \
  | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)
if [ "$(cat "$wstamp" 2>/dev/null)" != "$wwant" ] || [ ! -f web/dist/index.html ]; then
  log "npm run build:web (the DApp page -> web/dist)"
  npm run --silent build:web
  echo "$wwant" > "$wstamp"
fi
log "ready"
