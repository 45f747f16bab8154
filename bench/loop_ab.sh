#!/usr/bin/env bash
#
# bench/loop_ab.sh: the two measurements of docs/benchmarks.md "Keeping
# the event loop free" and "Durable writes and group commit".
#
#   commit  scepd (RSA-2048 CA, 2 workers) with its state on ext4 (TMPDIR
#           or /tmp) and on tmpfs (/dev/shm), in turn each round: per run
#           16 scep_load threads x 20 enrollments after a warm-up; prints
#           enroll/s, p99 and scepd's CPU ms per enrollment.  tmpfs has
#           no disk wait, so its figure bounds what group commit can win.
#   loop    scepd with WORKERS_LIST workers (default "1 2 4 8"): while
#           scep_load enrolls on 4 kept-alive connections, GetCACaps is
#           asked 150 times on new connections 5 ms apart; prints its
#           p50/p90/p99/max and the enrollment rate, then the idle RSS.
#
# Usage: bench/loop_ab.sh BUILD_DIR commit|loop     (ROUNDS=3)
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: loop_ab.sh BUILD_DIR commit|loop}" && pwd) || exit 2
what=${2:?usage: loop_ab.sh BUILD_DIR commit|loop}
. "$here/lib.sh"
BENCH_SCEPD=$build/src/scepd/scepd
BENCH_CHALLENGE=$(bench_challenge)
load=$build/bench/scep_load
ROUNDS=${ROUNDS:-3}
for f in "$BENCH_SCEPD" "$load"; do
    [ -x "$f" ] || { echo "loop_ab.sh: $f is not built" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "loop_ab.sh: python3 is needed" >&2; exit 2; }
disk=$(mktemp -d "${TMPDIR:-/tmp}/loop_ab.XXXXXX")
shm=
trap 'bench_stop_all; rm -rf "$disk" ${shm:+"$shm"}' EXIT

# one_server DIR WORKERS: a fresh scepd in DIR; sets BENCH_PID, BENCH_URL.
one_server() {
    rm -rf "$1"
    mkdir -p "$1"
    bench_scepd_start "$1/state" "$1/log" --ca-key-type rsa --ca-rsa-bits 2048 \
        --workers "$2" --log-level warn || { echo "loop_ab.sh: scepd did not start" >&2; exit 1; }
    "$load" --url "$BENCH_URL" --challenge "$BENCH_CHALLENGE" --threads 2 --requests 5 >/dev/null 2>&1
}

case $what in
    commit)
        [ -d /dev/shm ] || { echo "loop_ab.sh: no /dev/shm" >&2; exit 2; }
        shm=$(mktemp -d /dev/shm/loop_ab.XXXXXX)
        for r in $(seq 1 "$ROUNDS"); do
            for where in ext4:"$disk/s" tmpfs:"$shm/s"; do
                one_server "${where#*:}" 2
                t0=$(bench_cpu_ticks "$BENCH_PID")
                res=$("$load" --url "$BENCH_URL" --challenge "$BENCH_CHALLENGE" --threads 16 \
                    --requests 20 2>&1 | grep '^RESULT')
                t1=$(bench_cpu_ticks "$BENCH_PID")
                n=$(bench_field "$res" requests)
                printf '%-5s round %s  enroll/s %s  p99 %s ms  failures %s  cpu %s ms/enroll\n' \
                    "${where%%:*}" "$r" "$(bench_field "$res" rate)" "$(bench_field "$res" p99_ms)" \
                    "$(bench_field "$res" failures)" \
                    "$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
                        'BEGIN { printf "%.2f", (b - a) * 1000 / hz / n }')"
                bench_stop "$BENCH_PID"
            done
        done
        ;;
    loop)
        for w in ${WORKERS_LIST:-1 2 4 8}; do
            one_server "$disk/s" "$w"
            idle=$(bench_mem_kb "$BENCH_PID" VmRSS)
            "$load" --url "$BENCH_URL" --challenge "$BENCH_CHALLENGE" --threads 4 --requests 60 \
                >"$disk/load.out" 2>&1 &
            lp=$!
            sleep 0.8
            python3 - "$BENCH_URL?operation=GetCACaps" "$w" <<'PY'
import sys, time, urllib.request
url, w = sys.argv[1], sys.argv[2]
ts = []
for _ in range(150):
    t = time.perf_counter()
    urllib.request.urlopen(url, timeout=10).read()
    ts.append((time.perf_counter() - t) * 1000)
    time.sleep(0.005)
ts.sort()
print("workers %s  GetCACaps under load p50 %.2f p90 %.2f p99 %.2f max %.2f ms"
      % (w, ts[75], ts[135], ts[148], ts[-1]), end="")
PY
            wait "$lp"
            res=$(grep '^RESULT' "$disk/load.out")
            echo "  enroll/s $(bench_field "$res" rate)  idle RSS ${idle} kB"
            bench_stop "$BENCH_PID"
        done
        ;;
    *)
        echo "usage: loop_ab.sh BUILD_DIR commit|loop" >&2
        exit 2
        ;;
esac
