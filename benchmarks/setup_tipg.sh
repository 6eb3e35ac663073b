#!/usr/bin/env bash
# Install TiPG (Development Seed's OGC API Features and Tiles server for PostGIS), the peer of the
# PostGIS store's benchmark, idempotently, in a virtualenv of its own (benchmarks/.tipg-venv,
# git-ignored), never in the project's .venv: tipg 1.6.x and uvicorn, as TiPG recommends.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${TIPG_VENV:-$HERE/.tipg-venv}"
PYTHON="${TIPG_PYTHON:-python3}"
PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "tipg>=1.6,<1.7" "uvicorn[standard]"
"$VENV/bin/python" - <<'PY'
import tipg

assert tipg.__version__.startswith("1.6."), tipg.__version__
print(f"peer ready: tipg {tipg.__version__}")
PY
