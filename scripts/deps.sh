#!/usr/bin/env bash
# Installs what scepd needs on Debian 12, using only Debian's mirror:
# the build dependencies and, unless --build-only, the third-party SCEP
# clients the integration tests drive (micromdm scepclient from "scep",
# strongSwan pki with its openssl plugin for EC keys, certmonger's scep-submit,
# clang-format for the formatting check, clang and its libFuzzer runtime
# for scripts/fuzz.sh, cppcheck and valgrind for scripts/static.sh and
# scripts/valgrind.sh), headless Chromium with chromedriver and
# Selenium for the web console's browser test, gnuplot (gnuplot-nox) for
# the chart of bench/series.sh, and the PostgreSQL server the
# PostgreSQL store's tests start for themselves (postgresql; the build
# needs only libpq-dev).  Idempotent: asks dpkg what
# is missing first and runs apt-get (update + install) only when
# something is.  Needs root for the install (or sudo, when present).
set -euo pipefail

build_pkgs=(build-essential gcc cmake pkg-config libssl-dev libevent-dev
            libsqlite3-dev libpq-dev libinih-dev libjansson-dev libcmocka-dev
            libcurl4-openssl-dev openssl sqlite3 curl python3 ca-certificates)
test_pkgs=(scep strongswan-pki libstrongswan-standard-plugins libstrongswan-extra-plugins certmonger
           clang-format clang libclang-rt-14-dev cppcheck valgrind postgresql
           chromium chromium-driver python3-selenium gnuplot-nox)

want=("${build_pkgs[@]}")
case "${1:-}" in
    --build-only) ;;
    "") want+=("${test_pkgs[@]}") ;;
    -h|--help) echo "usage: $0 [--build-only]"; exit 0 ;;
    *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all ${#want[@]} packages present"
    exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# certmonger's postinst tries to start its service; in a container
# without systemd that only prints a warning.  --no-install-recommends
# keeps the footprint to what is used.
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
