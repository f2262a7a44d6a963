#!/bin/sh
# Install the Debian/Ubuntu packages GridPatrol needs, only those missing.
#   scripts/system-packages.sh venv    python3-venv (Debian's python3 ships without ensurepip)
#   scripts/system-packages.sh run     SpatiaLite and a CJK font (make run)
#   scripts/system-packages.sh test    + PostgreSQL with PostGIS, Chromium, and nginx and Redis for
#                                      the deployment's end-to-end tests (make test, make e2e-deploy)
#   scripts/system-packages.sh bench   + PostgreSQL with PostGIS, wrk, Chromium and npm (make bench)
set -eu

want="libsqlite3-mod-spatialite fonts-noto-cjk"
postgis=no
case "${1:-run}" in
  venv) want="python3-venv" ;;
  run) ;;
  test) want="$want chromium postgresql nginx-light libnginx-mod-http-brotli-filter redis-server"
    postgis=yes ;;
  bench) want="$want postgresql wrk chromium"; postgis=yes
    # Lighthouse comes from npm; a NodeSource nodejs brings its own npm (Debian's would clash).
    command -v npm >/dev/null 2>&1 || want="$want nodejs npm" ;;
  *) echo "usage: $0 venv|run|test|bench" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
This is not a Debian or Ubuntu system, so GridPatrol cannot install its system packages itself.
Install these with your package manager, then run the command again:
  - SpatiaLite 5 (the mod_spatialite SQLite extension; set GRIDPATROL_SPATIALITE_LIBRARY_PATH
    to its path if it is not on the loader path)
  - a CJK font such as Noto Sans CJK SC (for photo watermarks)
  - for tests: PostgreSQL 13+ with PostGIS 3, Chromium (set GRIDPATROL_CHROMIUM to its path),
    nginx (with the brotli filter module if there is one) and Redis
  - for benchmarks: wrk, chromium, nodejs and npm (Lighthouse)
MSG
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
apt_install() {
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing system packages: $*"
  [ -n "${updated:-}" ] || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; updated=1; }
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=""
for pkg in $want; do installed "$pkg" || missing="$missing $pkg"; done
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing

# PostGIS has to match the PostgreSQL major version that is installed.
if [ "$postgis" = yes ]; then
  major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  installed "postgresql-$major-postgis-3" || apt_install "postgresql-$major-postgis-3"
fi
