#!/usr/bin/env bash
# Installs what the service and its tests need, idempotently: a virtualenv in .venv with the
# package (editable) and its test tools. Sourced by run.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
VENV="$ROOT/.venv"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]"
