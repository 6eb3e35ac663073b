#!/usr/bin/env bash
# The gettext catalogues (README, "Languages"): `extract` gathers every message into
# build/messages.pot and merges it into each language's .po (new entries come empty, so the
# catalogue test lists them until they are translated); `pot FILE` only writes the template;
# `compile` writes the .mo files and the pages' messages.json (build outputs, not committed;
# setup.sh runs it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"
pot() {
  "$VENV/bin/pybabel" extract -F babel.cfg -k _l -k tr:2 -k both:2 --no-wrap --sort-by-file \
    --project geo-service -o "$1" . >/dev/null
}
case "${1:-compile}" in
  pot)
    pot "$2"
    ;;
  extract)
    mkdir -p build
    pot build/messages.pot
    "$VENV/bin/pybabel" update -i build/messages.pot -d geo_service/locale --no-wrap \
      --no-fuzzy-matching --ignore-obsolete
    ;;
  compile)
    "$VENV/bin/python" -c "from geo_service.i18n.catalogues import compile_all; compile_all()"
    ;;
  *)
    echo "usage: scripts/catalogues.sh extract|pot FILE|compile" >&2
    exit 2
    ;;
esac
