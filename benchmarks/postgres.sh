#!/usr/bin/env bash
# A PostgreSQL 15 + PostGIS cluster for the benchmarks, kept in benchmarks/data/postgres
# (git-ignored) so generated layers survive between runs; on 127.0.0.1 only, as Debian's
# `postgres` user when run as root (PostgreSQL refuses root). Both servers of a comparison read
# the same database through the same settings (`postgres.conf`).
#   bash benchmarks/postgres.sh start   # initdb on first use, start, create database `bench`
#   bash benchmarks/postgres.sh url     # the service's URL of the `bench` database
#   bash benchmarks/postgres.sh stop    # stop by the postmaster's PID (pg_ctl stop)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${BENCH_PG_DIR:-$HERE/data/postgres}"
PORT="${BENCH_PG_PORT:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); fi
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/bench"

case "${1:-}" in
  start)
    if [ ! -f "$DATA/PG_VERSION" ]; then
      mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
      "${AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null
      cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 200
CONF
      cat "$HERE/postgres.conf" >> "$DATA/postgresql.conf"
    fi
    "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
    "${AS[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
      || "${AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres bench
    echo "$URL"
    ;;
  url) echo "$URL" ;;
  stop) "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null ;;
  *) echo "usage: $0 start|url|stop" >&2; exit 2 ;;
esac
