#!/usr/bin/env bash
# Install what the side-by-side benchmark needs, idempotently: wrk (the load generator) and the
# peer server, pygeoapi 0.21.x with its OGR provider (GDAL's Python bindings matching Debian's
# libgdal) under gunicorn, in a virtualenv of its own (benchmarks/.peer-venv), never the project's.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.peer-venv"
if ! command -v gdal-config >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgdal-dev gdal-bin wrk >/dev/null
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "pygeoapi>=0.21,<0.22" gunicorn numpy setuptools wheel
if ! "$VENV/bin/python" -c "from osgeo import ogr" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation \
    "GDAL==$(gdal-config --version)"
fi
"$VENV/bin/python" -c "from osgeo import ogr, gdal; import pygeoapi; print('peer ready: pygeoapi', pygeoapi.__version__, 'GDAL', gdal.__version__)"
