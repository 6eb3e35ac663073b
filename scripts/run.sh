#!/usr/bin/env bash
# Install, build the sample catalogue if the data directory is empty, and serve it at
# http://127.0.0.1:8000 (extra arguments go to `geo-service serve`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec "$VENV/bin/geo-service" serve "$@"
