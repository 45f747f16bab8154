#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz/ for a bounded time on a
# copy of its seed corpus, under ASan + UBSan, and fails on the first
# crash, leak, timeout or sanitizer report.  CI runs it after the two
# CTest passes (scripts/test.sh); by hand it takes a longer time per
# harness, e.g. SCEP_FUZZ_SECONDS=600 bash scripts/fuzz.sh.
#
# Environment: SCEP_FUZZ_SECONDS (default 20) per harness;
# SCEP_FUZZ_RUNS=N stops each harness after N executions instead
# (the long run of docs/fuzzing.md: SCEP_FUZZ_RUNS=10000000
# SCEP_FUZZ_SECONDS=0); SCEP_FUZZ_ONLY="a b" runs only those; BUILD_DIR
# (default build-fuzz) for the clang build; SCEP_FUZZ_ASAN="opt=v:..." adds
# ASan options (the long run of the config harness used
# malloc_context_size=0: recording a stack per allocation made glibc's
# regcomp() a third of the speed, and a finding is replayed with stacks
# from its artifact anyway); SCEP_FUZZ_KEEP=1 keeps the
# grown corpora and any crash artifacts in $BUILD_DIR/fuzz-run.  A crash
# is a bug: fix it, and add the input to tests/fuzz/corpus/NAME so that
# the CTest replay (label fuzz) keeps it fixed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
seconds=${SCEP_FUZZ_SECONDS:-20}
run=$build/fuzz-run

command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is needed (scripts/deps.sh installs it)" >&2; exit 1; }
# The harness list is the one tests/fuzz/CMakeLists.txt builds.
harnesses=$(awk '/^set\(scep_fuzzers/ { on = 1; sub(/^set\(scep_fuzzers/, "") }
                 on { line = $0; done = sub(/\).*$/, "", line); printf "%s ", line; if (done) exit }' \
    "$root/tests/fuzz/CMakeLists.txt")
harnesses=$(echo $harnesses)
if [ -n "${SCEP_FUZZ_ONLY:-}" ]; then
    for h in $SCEP_FUZZ_ONLY; do
        case " $harnesses " in *" $h "*) ;; *) echo "fuzz.sh: no harness $h" >&2; exit 2 ;; esac
    done
    harnesses=$SCEP_FUZZ_ONLY
fi
limit=(-max_total_time="$seconds")
if [ -n "${SCEP_FUZZ_RUNS:-}" ]; then
    limit=(-runs="$SCEP_FUZZ_RUNS")
    [ "$seconds" = 0 ] || limit+=(-max_total_time="$seconds")
fi
[ -n "$harnesses" ] || { echo "fuzz.sh: no harness list in tests/fuzz/CMakeLists.txt" >&2; exit 1; }

echo "== fuzz.sh: clang build with libFuzzer, ASan and UBSan"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSCEP_FUZZ=ON -DSCEP_SANITIZE=ON \
    -DSCEP_BUILD_BENCH=OFF -DSCEP_BUILD_TESTS=ON >/dev/null
targets=()
for h in $harnesses; do targets+=("fuzz_$h"); done
cmake --build "$build" -j2 --target "${targets[@]}"

rm -rf "$run"
mkdir -p "$run"
failed=0
for h in $harnesses; do
    mkdir -p "$run/$h/corpus" "$run/$h/artifacts"
    cp -r "$root/tests/fuzz/corpus/$h/." "$run/$h/corpus/" 2>/dev/null || true
    echo "== fuzz.sh: fuzz_$h (${limit[*]})"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1${SCEP_FUZZ_ASAN:+:$SCEP_FUZZ_ASAN} \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/tests/fuzz/fuzz_$h" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
           -print_final_stats=1 -artifact_prefix="$run/$h/artifacts/" "$run/$h/corpus" \
           >"$run/$h/log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
            "$run/$h/log" | sed "s/^/   fuzz_$h /" || true
    else
        failed=1
        echo "fuzz.sh: fuzz_$h FAILED; its output:" >&2
        tail -n 40 "$run/$h/log" >&2
        ls "$run/$h/artifacts" >&2 || true
    fi
done
if [ "$failed" = 0 ] && [ "${SCEP_FUZZ_KEEP:-0}" != 1 ]; then
    rm -rf "$run"
fi
if [ "$failed" != 0 ]; then
    echo "fuzz.sh: a harness failed; inputs are in $run/*/artifacts" >&2
    exit 1
fi
echo "== fuzz.sh: every harness ran ${seconds}s without a finding"
