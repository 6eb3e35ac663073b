#!/usr/bin/env bash
# Install and run the whole test suite (extra arguments go to pytest). The browser tests drive
# Debian's Chromium with Playwright for Python; Chromium is installed here when missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium (Debian package) for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest selected no tests (exit 5): nothing ran, nothing failed" >&2
  status=0
fi
exit "$status"
