#!/usr/bin/env bash
#
# bench/series_smoke.sh: CTest's bench.series_smoke.  Runs the benchmark
# series (bench/series.sh) as a short smoke run (SMOKE=1: c = 1 and 4, a
# handful of enrollments per run, a store of 2000 certificates) into a
# temporary directory, and checks what CI can check without trusting any
# figure: the series exited 0, the Markdown report and the PNG chart were
# written, the report has a run of every server at every concurrency, and
# no scepd run lost an enrollment or handed out a serial twice.
#
# Usage: bench/series_smoke.sh BUILD_DIR
# Exit status: 0 pass, 1 fail, 77 skip (scepserver or gnuplot missing:
# scripts/deps.sh installs them).

set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: series_smoke.sh BUILD_DIR}
for c in scepserver gnuplot; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "SKIP: $c not installed (scripts/deps.sh)"
        exit 77
    fi
done

out=$(mktemp -d "${TMPDIR:-/tmp}/scep-series-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() {
    echo "FAIL series_smoke: $*" >&2
    [ -e "$out/series.md" ] && sed -n '/^## Every run/,$p' "$out/series.md" >&2
    exit 1
}

t0=$(date +%s)
SMOKE=1 OUT=$out/series.md PNG=$out/series.png bash "$here/series.sh" "$build" ||
    fail "series.sh exited $?"
echo "series_smoke: the series took $(($(date +%s) - t0)) s"

[ -s "$out/series.md" ] || fail "no Markdown report"
[ "$(head -c 8 "$out/series.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "no PNG chart"
grep -q '^## scepd against scepserver' "$out/series.md" || fail "no scepd / scepserver table"

# The per-run table: | config | c | round | requests | ok | failures | ... | dup | ...
runs=$(sed -n '/^## Every run/,$p' "$out/series.md" | awk -F' *[|] *' '
    $2 ~ /^[a-z]$/ && $3 ~ /^[0-9]+$/ { print $2, $3, $5, $6, $7, $11 }')
for cfg in a s b c d; do
    for c in 1 4; do
        printf '%s\n' "$runs" | awk -v n="$cfg" -v c="$c" '$1 == n && $2 == c { f = 1 } END { exit !f }' ||
            fail "no run of $cfg at c=$c in the report"
    done
done
bad=$(printf '%s\n' "$runs" | awk '$1 != "s" && ($3 == 0 || $3 != $4 || $5 != 0 || $6 != 0)')
[ -z "$bad" ] || fail "scepd runs with a failure or a duplicate serial (config c requests ok failures dup): $bad"
echo "PASS series_smoke"
