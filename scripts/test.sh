#!/usr/bin/env bash
# Install and run the whole test suite (extra arguments go to pytest): the service's setup, then
# the Debian packages the tests need when missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
# The browser tests drive Debian's Chromium with Playwright for Python, and its pages in
# Japanese, Korean and Chinese need the Noto CJK fonts (without, Chromium draws boxes); the
# records tests run on PostgreSQL too (a throwaway cluster they start themselves), with PostGIS
# in it. What is missing is installed in one go.
missing=()
for package in chromium postgresql-15 postgresql-15-postgis-3 fonts-noto-cjk; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages) for the browser and records tests" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
set +e
# Two workers, each taking whole files (module fixtures are built once): the suite waits on
# servers, browsers and databases as much as it computes. `-n 0` runs it in one process.
"$VENV/bin/python" -m pytest -n 2 --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest selected no tests (exit 5): nothing ran, nothing failed" >&2
  status=0
fi
exit "$status"
