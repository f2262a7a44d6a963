#!/bin/sh
# Start (or reuse) a private PostgreSQL + PostGIS for the tests on 127.0.0.1 and print its URL.
# The cluster lives in a temporary folder, trusts local connections and runs without fsync:
# it is for tests only and never touches a system cluster. Room for 300 connections: each pytest
# worker has its live servers' and deployed stack's pools.
set -eu
port="${GRIDPATROL_PG_PORT:-55432}"
major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
if [ -z "$major" ]; then
  echo "PostgreSQL is not installed (scripts/system-packages.sh test installs it)" >&2; exit 1
fi
bin="/usr/lib/postgresql/$major/bin"
if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
  echo "PostGIS for PostgreSQL $major is missing (postgresql-$major-postgis-3)" >&2; exit 1
fi
url="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then echo "$url"; exit 0; fi

data="${TMPDIR:-/tmp}/gridpatrol-test-pg-$port"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data"; mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
fi
as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
  -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null
echo "$url"
