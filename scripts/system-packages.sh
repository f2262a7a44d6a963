#!/bin/sh
# Install the Debian/Ubuntu packages GridPatrol needs, only those missing.
#   scripts/system-packages.sh run    SpatiaLite and a CJK font (make run)
#   scripts/system-packages.sh test   + PostgreSQL with PostGIS and Chromium (make test)
#   scripts/system-packages.sh bench  + wrk (make bench)
set -eu

want="libsqlite3-mod-spatialite fonts-noto-cjk"
case "${1:-run}" in
  run) ;;
  test) want="$want chromium postgresql" ;;
  bench) want="$want postgresql wrk" ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
This is not a Debian or Ubuntu system, so GridPatrol cannot install its system packages itself.
Install these with your package manager, then run the command again:
  - SpatiaLite 5 (the mod_spatialite SQLite extension; set GRIDPATROL_SPATIALITE_LIBRARY_PATH
    to its path if it is not on the loader path)
  - a CJK font such as Noto Sans CJK SC (for photo watermarks)
  - for tests: PostgreSQL 13+ with PostGIS 3, and Chromium (set GRIDPATROL_CHROMIUM to its path)
  - for benchmarks: wrk
MSG
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=""
for pkg in $want; do installed "$pkg" || missing="$missing $pkg"; done

# PostGIS must match the PostgreSQL major version that is (or will be) installed.
case " $want " in *" postgresql "*)
  if [ -n "$missing" ] && echo "$missing" | grep -q postgresql; then :; else
    major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    [ -n "$major" ] && ! installed "postgresql-$major-postgis-3" && missing="$missing postgresql-$major-postgis-3"
  fi ;;
esac

if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing system packages:$missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  # A fresh PostgreSQL: now its version is known, add the matching PostGIS.
  case "$missing" in *postgresql*)
    major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
    installed "postgresql-$major-postgis-3" || \
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "postgresql-$major-postgis-3" >/dev/null ;;
  esac
fi
