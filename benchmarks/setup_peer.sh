#!/usr/bin/env bash
# Install the peer server for the side-by-side benchmark, idempotently, in a virtualenv of its
# own (benchmarks/.peer-venv, git-ignored), never in the project's .venv:
#   - Debian's GDAL (libgdal-dev, gdal-bin), and wrk (an optional C load generator: run.py
#     --client wrk);
#   - pygeoapi 0.21.x (the newest for Python 3.11) and gunicorn;
#   - GDAL's Python bindings built from the sdist at exactly Debian's libgdal version, for
#     pygeoapi's OGR provider (numpy first, so the bindings build with numpy support).
# Running it again checks everything and installs only what is missing or mismatched.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-$HERE/.peer-venv}"
PYTHON="${PEER_PYTHON:-python3}"
PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)

if ! command -v gdal-config >/dev/null 2>&1 || ! command -v ogrinfo >/dev/null 2>&1 \
  || ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgdal-dev gdal-bin wrk >/dev/null
fi
GDAL_VERSION="$(gdal-config --version)"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
  || { echo "pygeoapi 0.21 needs Python >= 3.10" >&2; exit 1; }

"${PIP[@]}" --upgrade pip setuptools wheel
"${PIP[@]}" numpy "pygeoapi>=0.21,<0.22" gunicorn
if [ "$("$VENV/bin/python" -c 'from osgeo import gdal; print(gdal.__version__)' 2>/dev/null)" \
  != "$GDAL_VERSION" ]; then
  # No wheels on PyPI: builds from the sdist against Debian's headers (a minute or two).
  "${PIP[@]}" --no-build-isolation --no-binary GDAL --no-cache-dir --force-reinstall --no-deps \
    "GDAL==$GDAL_VERSION"
fi

"$VENV/bin/python" - <<'PY'
from osgeo import gdal, ogr

import pygeoapi

assert ogr.GetDriverByName("GPKG") is not None, "GDAL has no GPKG driver"
assert pygeoapi.__version__.startswith("0.21."), pygeoapi.__version__
print(f"peer ready: pygeoapi {pygeoapi.__version__}, GDAL bindings {gdal.__version__}")
PY
