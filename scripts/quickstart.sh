#!/usr/bin/env bash
# From a fresh clone to a running SCEP server in one command: installs the
# build dependencies, builds scepd (Release, ./build), and runs it in the
# foreground with its state (CA, database, challenge) in ./state.
#
# Environment: SCEPD_STATE (default ./state), SCEPD_LISTEN (default
# 0.0.0.0:8080), SCEPD_CHALLENGE (default: scepd generates one on first
# start and keeps it in STATE/challenge), BUILD_DIR (default ./build).
# Extra arguments go to scepd.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${SCEPD_STATE:-$root/state}
listen=${SCEPD_LISTEN:-0.0.0.0:8080}
build=${BUILD_DIR:-$root/build}

bash "$root/scripts/deps.sh" --build-only
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSCEP_BUILD_TESTS=OFF >/dev/null
# Everything, not only the two programs: `cmake --install` after this
# build installs libscep and its headers too.
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"

args=(--state-dir "$state" --listen "$listen")
[ -n "${SCEPD_CHALLENGE:-}" ] && args+=(--challenge "$SCEPD_CHALLENGE")

echo "quickstart: starting scepd (state in $state); stop it with Ctrl-C"
if [ -z "${SCEPD_CHALLENGE:-}" ] && [ -s "$state/challenge" ]; then
    echo "quickstart: challenge password: $(head -n 1 "$state/challenge")"
fi
echo "quickstart: enroll with e.g.: pki --scep --url URL --in k.pem --dn CN=dev1 --password PASSWORD --cacert-enc ca.der --cacert-sig ca.der"
echo "quickstart: micromdm's scepclient sends single DES only: for it, add --allow-des true (scepd.conf(5) allow_des)"
echo "quickstart: inspect: $build/src/scepctl/scepctl --state-dir $state list"
# scepd prints its URL, and on first start the challenge it generated.
exec "$build/src/scepd/scepd" "${args[@]}" "$@"
