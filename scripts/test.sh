#!/usr/bin/env bash
# Install and run the whole test suite (extra arguments go to pytest). The browser tests drive
# Debian's Chromium with Playwright for Python; Chromium is installed here when missing, and so
# are PostgreSQL 15 and PostGIS 3 for the records tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Chromium (Debian package) for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The browser tests look at pages in Japanese, Korean and Chinese: Debian's Noto CJK fonts draw
# them (without, Chromium shows boxes).
# The records tests run on PostgreSQL too (a throwaway cluster they start themselves), and
# later work needs PostGIS in it: Debian's packages, installed when missing.
missing=()
for package in postgresql-15 postgresql-15-postgis-3 fonts-noto-cjk; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages) for the records and browser tests" >&2
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
