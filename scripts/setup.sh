#!/usr/bin/env bash
# Installs what the service and its tests need, idempotently: a virtualenv in .venv with the
# package (editable) and its test tools, and the map's scripts and styles from the npm registry
# (`npm ci` into node_modules, redone only when package-lock.json changes). Sourced by run.sh
# and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
VENV="$ROOT/.venv"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]"
# the package's bytecode, written here once: where PYTHONDONTWRITEBYTECODE is set, every process
# (each server worker, each command) would otherwise compile its sources again
"$VENV/bin/python" -m compileall -q "$ROOT/geo_service"

if ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm (Debian packages) for the map's assets" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
STAMP="$ROOT/node_modules/.installed-from-lock"
if [ ! -f "$STAMP" ] || ! cmp -s "$ROOT/package-lock.json" "$STAMP"; then
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/package-lock.json" "$STAMP"
fi
# the gettext catalogues' compiled forms (.mo, and messages.json for the pages' scripts)
"$VENV/bin/python" -c "from geo_service.i18n.catalogues import compile_all; compile_all()"
