#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): dependencies (including
# the third-party SCEP clients), a Debug build with warnings as errors,
# then every CTest test: unit, fuzz-corpus replays, lint.banned and the
# integration tests against the real scepd.  Exits non-zero on any
# failure.  BUILD_DIR overrides the build directory (default
# build-test); extra arguments go to ctest (e.g. -L integration).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-test}
jobs=2

bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSCEP_WERROR=ON
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"
