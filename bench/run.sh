#!/usr/bin/env bash
#
# bench/run.sh: scepd against micromdm's scepserver, measured in the same
# run on the same machine with the same load generator (scep_load).
#
# Starts both servers on 127.0.0.1 with their state in a temporary
# directory, each with an RSA CA of the same size (CA_BITS), lets each
# warm up, then runs scep_load against scepd and scepserver alternately
# (A B A B ...) for ROUNDS rounds so that drift in the machine's load hits
# both alike.  Prints every run, the median of each figure per server and
# the ratio scepd / scepserver.  Besides what scep_load reports, it reads
# each server's CPU time from /proc before and after every run, which
# gives CPU milliseconds per enrollment: the figure least disturbed by
# the load generator sharing the cores.  Both servers are stopped on exit.
# Server start-up and the /proc readings come from bench/lib.sh, which
# bench/pg_run.sh and bench/series.sh (the whole series) share.
#
# scepserver 2.1.0's file depot loses races on its serial file when
# requests arrive concurrently ("open depot/serial: file exists"), so with
# THREADS > 1 some of its answers are CertRep FAILURE.  Those are counted
# in its failures column, not in its enroll/s; CPU per request counts
# them, since they cost it nearly a whole enrollment.
#
# Usage: bench/run.sh [BUILD_DIR]        (default: BUILD_DIR=<repo>/build)
# Environment (defaults): THREADS=4 REQUESTS=50 ROUNDS=3 CA_BITS=2048
#   CIPHER=aes128 DIGEST=sha256 WARMUP=10 FRESH=0 (1: a new TCP
#   connection per request), SCEPSERVER=scepserver, SCEPD_ARGS= (more
#   scepd flags, split on spaces, e.g. "--database sqlite:/dev/shm/b.db"
#   to see what the fsync of every issued certificate costs).
#   CIPHER=des adds --allow-des true: scepd refuses single DES otherwise.
#
# Exit status: 0 when every enrollment against scepd succeeded (the
# peer's failures are reported, not fatal), 1 when one failed or a server
# did not start, 2 when something needed is missing.

set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
THREADS=${THREADS:-4}
REQUESTS=${REQUESTS:-50}
ROUNDS=${ROUNDS:-3}
CA_BITS=${CA_BITS:-2048}
CIPHER=${CIPHER:-aes128}
DIGEST=${DIGEST:-sha256}
WARMUP=${WARMUP:-10}
FRESH=${FRESH:-0}
SCEPSERVER=${SCEPSERVER:-scepserver}

scepd=$build/src/scepd/scepd
load=$build/bench/scep_load
for f in "$scepd" "$load"; do
    if [ ! -x "$f" ]; then
        echo "run.sh: $f not built (cmake --build $build --target scepd scep_load)" >&2
        exit 2
    fi
done
for c in "$SCEPSERVER" python3 curl; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "run.sh: $c not found" >&2
        exit 2
    fi
done

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BENCH_SCEPD=$scepd
BENCH_SCEPSERVER=$SCEPSERVER
BENCH_CHALLENGE=$(bench_challenge)
challenge=$BENCH_CHALLENGE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scep-bench.XXXXXX")
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    bench_stop_all
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# SCEPD_ARGS is split on purpose: it holds several flags.
# shellcheck disable=SC2086
bench_scepd_start "$tmp/scepd" "$tmp/scepd.log" --ca-key-type rsa --ca-rsa-bits "$CA_BITS" \
    ${SCEPD_ARGS:-} $([ "$CIPHER" = des ] && echo --allow-des true) || exit 1
scepd_pid=$BENCH_PID
scepd_url=$BENCH_URL
bench_scepserver_start "$tmp/scepserver" "$CA_BITS" "$tmp/scepserver.log" || exit 1
ms_pid=$BENCH_PID
ms_url=$BENCH_URL

# --- runs ------------------------------------------------------------------
clk=$(getconf CLK_TCK)

load_args=(--challenge "$challenge" --threads "$THREADS" --requests "$REQUESTS"
    --cipher "$CIPHER" --digest "$DIGEST")
[ "$FRESH" = 1 ] && load_args+=(--fresh-connection)

failed=0
results=$tmp/results
: >"$results"

# run NAME URL PID ROUND: one scep_load run; appends
# "NAME ROUND rate p50 p90 p99 cpu_ms_per_request failures" to results.
run() {
    local name=$1 url=$2 pid=$3 round=$4 c0 c1 out line
    c0=$(bench_cpu_ticks "$pid")
    out=$("$load" --url "$url" --label "$name" "${load_args[@]}" 2>"$tmp/load.err")
    local st=$?
    c1=$(bench_cpu_ticks "$pid")
    line=$(printf '%s\n' "$out" | sed -n 's/^RESULT //p')
    if [ "$round" = 1 ]; then
        printf '%s\n' "$out" | sed -n '1p;/^CertRep envelope/p' | sed 's/^/  /'
    fi
    if [ $st -ne 0 ] || [ -z "$line" ]; then
        [ "$name" = scepd ] && failed=1
        sed "s/^/  $name round $round: /" "$tmp/load.err" >&2
    fi
    if [ -z "$line" ]; then
        # No RESULT at all (setup failed): a row of zeros keeps the table.
        line="requests=0 failures=0 rate=0 p50_ms=0 p90_ms=0 p99_ms=0"
    fi
    printf '%s\n' "$line" | awk -v name="$name" -v round="$round" -v dt=$((c1 - c0)) \
        -v clk="$clk" '
        {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            n = v["requests"]
            cpu = n > 0 ? dt * 1000 / clk / n : 0
            printf "%s %s %s %s %s %s %.2f %s\n", name, round, v["rate"], v["p50_ms"],
                v["p90_ms"], v["p99_ms"], cpu, v["failures"]
        }' >>"$results"
}

echo "scepd      $scepd_url  (RSA-$CA_BITS CA, $(nproc) cores)"
echo "scepserver $ms_url  ($("$SCEPSERVER" -version 2>&1), RSA-$CA_BITS CA)"
echo "machine    load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "load       $THREADS threads x $REQUESTS requests, $CIPHER/$DIGEST, $ROUNDS rounds A B"

# Warm-up, not counted: page cache, SQLite file, Go's heap.
"$load" --url "$scepd_url" --challenge "$challenge" --threads 1 --requests "$WARMUP" \
    --cipher "$CIPHER" --digest "$DIGEST" >/dev/null 2>&1 || { echo "run.sh: warm-up against scepd failed" >&2; failed=1; }
"$load" --url "$ms_url" --challenge "$challenge" --threads 1 --requests "$WARMUP" \
    --cipher "$CIPHER" --digest "$DIGEST" >/dev/null 2>&1 || echo "run.sh: warm-up against scepserver failed" >&2

for r in $(seq 1 "$ROUNDS"); do
    run scepd "$scepd_url" "$scepd_pid" "$r"
    run scepserver "$ms_url" "$ms_pid" "$r"
done

echo
printf '%-6s %-10s %10s %8s %8s %8s %12s %8s\n' round server enroll/s p50_ms p90_ms p99_ms \
    cpu_ms/req failures
awk '{ printf "%-6s %-10s %10s %8s %8s %8s %12s %8s\n", $2, $1, $3, $4, $5, $6, $7, $8 }' \
    "$results"

# Medians per server (over rounds), then scepd / scepserver.
awk "$BENCH_AWK_MEDIAN"'
    { srv[NR] = $1; for (c = 3; c <= 7; c++) f[NR, c] = $c }
    END {
        split("enroll/s p50_ms p90_ms p99_ms cpu_ms/req", label, " ")
        printf "\n%-18s", "median"
        for (c = 3; c <= 7; c++) printf " %11s", label[c - 2]
        printf "\n%-18s", "scepd"
        for (c = 3; c <= 7; c++) { a[c] = median("scepd", c); printf " %11.2f", a[c] }
        printf "\n%-18s", "scepserver"
        for (c = 3; c <= 7; c++) { b[c] = median("scepserver", c); printf " %11.2f", b[c] }
        printf "\n%-18s", "scepd/scepserver"
        for (c = 3; c <= 7; c++) {
            if (b[c] > 0) printf " %11.2f", a[c] / b[c]; else printf " %11s", "n/a"
        }
        printf "\n(enroll/s: above 1 favours scepd; latency and CPU: below 1 favours scepd)\n"
    }' "$results"

for p in "$scepd_pid:scepd" "$ms_pid:scepserver"; do
    echo "peak RSS ${p#*:}: $(bench_mem_kb "${p%%:*}" VmHWM) kB"
done
exit $failed
