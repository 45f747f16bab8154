#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): dependencies (including
# the third-party SCEP clients), then two passes over every CTest test
# (unit, fuzz-corpus replays, lint.banned and the integration tests
# against the real scepd and real peers):
#   1. a Debug build with warnings as errors;
#   2. the same under AddressSanitizer + UBSan (leaks included: scepd,
#      scepctl and scepc must exit with nothing left allocated);
#   3. static analysis (scripts/static.sh: cppcheck, no reports) and
#      Valgrind memcheck over the unit tests that are not RSA-bound
#      (scripts/valgrind.sh, on the first build);
#   4. every libFuzzer harness for a bounded time (scripts/fuzz.sh; clang,
#      ASan + UBSan); SCEP_TEST_FUZZ=0 skips it.
# Exits non-zero on any failure.  BUILD_DIR overrides the first build
# directory (default build-test; the sanitizer build goes beside it with
# an -asan suffix); SCEP_TEST_SANITIZE=0 skips the second pass; extra
# arguments go to ctest (e.g. -L integration).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-test}
jobs=2

bash "$root/scripts/deps.sh"

echo "== test.sh: Debug build, warnings as errors"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSCEP_WERROR=ON
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"

if [ "${SCEP_TEST_SANITIZE:-1}" != 0 ]; then
    echo "== test.sh: the same suite under AddressSanitizer and UBSan"
    cmake -S "$root" -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DSCEP_WERROR=ON -DSCEP_SANITIZE=ON \
        -DSCEP_BUILD_BENCH=OFF
    cmake --build "$build-asan" -j"$jobs"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        ctest --test-dir "$build-asan" --output-on-failure -j"$jobs" "$@"
fi

echo "== test.sh: static analysis and Valgrind"
bash "$root/scripts/static.sh"
BUILD_DIR=$build bash "$root/scripts/valgrind.sh"

if [ "${SCEP_TEST_FUZZ:-1}" != 0 ]; then
    BUILD_DIR=$build-fuzz bash "$root/scripts/fuzz.sh"
fi
