#!/usr/bin/env bash
#
# bench/pg_run.sh: scepd on PostgreSQL, one node and two nodes on one
# database, beside scepd on SQLite, measured in the same run on the same
# machine with the same load generator (scep_load).
#
# Starts a private PostgreSQL server (Debian's postgresql package: initdb
# into a temporary directory, a Unix socket only, fsync and synchronous
# commits on, as in production) and three set-ups, each with an RSA CA
# of CA_BITS:
#   sqlite  one scepd, its SQLite database in its state directory;
#   pg1     one scepd on the PostgreSQL database;
#   pg2     two scepd nodes on one PostgreSQL database (the same CA key
#           files), the load split evenly: two scep_load processes, each
#           with half the threads, started together.
# Each set-up is warmed up, then they run in turn (sqlite pg1 pg2 ...)
# for ROUNDS rounds, so that drift in the machine's load hits all alike.
# Besides what scep_load reports it reads, from /proc before and after
# every run, the CPU time of every scepd of the set-up and of every
# PostgreSQL process, which gives CPU milliseconds per enrollment for
# scepd and for the database server.  Prints every run, the medians per
# set-up and the ratios to sqlite.  Everything is stopped on exit.
#
# Usage: bench/pg_run.sh [BUILD_DIR]       (default: BUILD_DIR=<repo>/build)
# Environment (defaults): THREADS=4 REQUESTS=50 ROUNDS=3 CA_BITS=2048
#   WARMUP=10 WORKERS=2 (scepd --workers), PG_BIN (newest
#   /usr/lib/postgresql/*/bin), PG_USER=nobody (the server's user when run
#   as root).
#
# Exit status: 0 when every enrollment succeeded, 1 when one failed or a
# server did not start, 2 when something needed is missing.

set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
THREADS=${THREADS:-4}
REQUESTS=${REQUESTS:-50}
ROUNDS=${ROUNDS:-3}
CA_BITS=${CA_BITS:-2048}
WARMUP=${WARMUP:-10}
WORKERS=${WORKERS:-2}
PG_USER=${PG_USER:-nobody}

scepd=$build/src/scepd/scepd
scepctl=$build/src/scepctl/scepctl
load=$build/bench/scep_load
for f in "$scepd" "$scepctl" "$load"; do
    if [ ! -x "$f" ]; then
        echo "pg_run.sh: $f not built (cmake --build $build)" >&2
        exit 2
    fi
done
if [ -z "${PG_BIN:-}" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && PG_BIN=$d
    done
fi
if [ -z "${PG_BIN:-}" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
    echo "pg_run.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    exit 2
fi
if [ $((THREADS % 2)) -ne 0 ]; then
    echo "pg_run.sh: THREADS must be even (pg2 splits them across two nodes)" >&2
    exit 2
fi

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BENCH_SCEPD=$scepd
BENCH_CHALLENGE=$(bench_challenge)
challenge=$BENCH_CHALLENGE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scep-pgbench.XXXXXX")
chmod 755 "$tmp"
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$tmp/pg" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$tmp/pg" && "$@")
    fi
}
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    bench_stop_all
    [ -e "$tmp/pg/data/postmaster.pid" ] &&
        pg_as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- PostgreSQL --------------------------------------------------------------
mkdir -p "$tmp/pg"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$tmp/pg"
chmod 700 "$tmp/pg"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
if ! pg_as "$PG_BIN/initdb" -D "$tmp/pg/data" -U scepd -A trust -E UTF8 --locale=C.UTF-8 \
        >"$tmp/initdb.log" 2>&1 ||
    ! pg_as "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/log" -w -t 30 \
        -o "-p $port -c listen_addresses= -c unix_socket_directories=$tmp/pg" start >/dev/null 2>&1 ||
    ! "$PG_BIN/createdb" -h "$tmp/pg" -p "$port" -U scepd scepd 2>"$tmp/createdb.log"; then
    echo "pg_run.sh: PostgreSQL did not start:" >&2
    cat "$tmp/initdb.log" "$tmp/pg/log" "$tmp/createdb.log" >&2 2>/dev/null
    exit 1
fi
# Trust on a socket only this user reaches: a benchmark's server.
pg_uri="postgresql:///scepd?host=$tmp/pg&port=$port&user=scepd"
pg_main=$(head -n 1 "$tmp/pg/data/postmaster.pid")

"$scepctl" --state-dir "$tmp/ca" init --rsa-bits "$CA_BITS" --subject "CN=pg bench CA" \
    >/dev/null 2>&1 || { echo "pg_run.sh: scepctl init failed" >&2; exit 1; }

# start NAME [ARGS...]: a scepd with a copy of the CA; sets url_NAME, pid_NAME.
start() {
    local n=$1
    shift
    cp -a "$tmp/ca" "$tmp/$n"
    bench_scepd_start "$tmp/$n" "$tmp/$n.log" --workers "$WORKERS" "$@" || exit 1
    eval "pid_$n=\$BENCH_PID"
    eval "url_$n=\$BENCH_URL"
}
start sqlite
start pg1 --database "$pg_uri"
start pg2a --database "$pg_uri"
start pg2b --database "$pg_uri"

clk=$(getconf CLK_TCK)
# The PostgreSQL server's processes: the postmaster and its children
# (a backend per scepd worker connection, which stay while scepd runs).
pg_pids() { echo "$pg_main $(ps -o pid= --ppid "$pg_main" | tr '\n' ' ')"; }


failed=0
results=$tmp/results
: >"$results"

# run SETUP ROUND: one measured run of a set-up; appends
# "SETUP ROUND rate p50 p99 scepd_cpu_ms pg_cpu_ms failures" to results.
run() {
    local s=$1 round=$2 urls spids c0 p0 c1 p1 t0 t1 lp=() u i ok=0 fail=0 p50 p99 line
    case $s in
        sqlite) urls=$url_sqlite spids=$pid_sqlite ;;
        pg1) urls=$url_pg1 spids=$pid_pg1 ;;
        pg2) urls="$url_pg2a $url_pg2b" spids="$pid_pg2a $pid_pg2b" ;;
    esac
    local nurl
    nurl=$(echo "$urls" | wc -w)
    # shellcheck disable=SC2086
    c0=$(bench_cpu_ticks $spids)
    # shellcheck disable=SC2046
    p0=$(bench_cpu_ticks $(pg_pids))
    t0=$(date +%s.%N)
    i=0
    for u in $urls; do
        "$load" --url "$u" --challenge "$challenge" --threads $((THREADS / nurl)) \
            --requests "$REQUESTS" --label "$s" >"$tmp/out.$i" 2>&1 &
        lp+=("$!")
        i=$((i + 1))
    done
    for p in "${lp[@]}"; do wait "$p" || failed=1; done
    t1=$(date +%s.%N)
    # shellcheck disable=SC2086
    c1=$(bench_cpu_ticks $spids)
    # shellcheck disable=SC2046
    p1=$(bench_cpu_ticks $(pg_pids))
    p50=0 p99=0
    for ((i = 0; i < nurl; i++)); do
        line=$(sed -n 's/^RESULT //p' "$tmp/out.$i")
        [ -n "$line" ] || { sed "s/^/  $s: /" "$tmp/out.$i" >&2; failed=1; continue; }
        ok=$((ok + $(bench_field "$line" requests) - $(bench_field "$line" failures)))
        fail=$((fail + $(bench_field "$line" failures)))
        # The larger of the loaders' percentiles: a conservative figure.
        p50=$(awk -v a="$(bench_field "$line" p50_ms)" -v b="$p50" 'BEGIN { print (a > b ? a : b) }')
        p99=$(awk -v a="$(bench_field "$line" p99_ms)" -v b="$p99" 'BEGIN { print (a > b ? a : b) }')
    done
    [ "$fail" = 0 ] || failed=1
    awk -v s="$s" -v r="$round" -v ok="$ok" -v t0="$t0" -v t1="$t1" -v dc=$((c1 - c0)) \
        -v dp=$((p1 - p0)) -v clk="$clk" -v p50="$p50" -v p99="$p99" -v f="$fail" 'BEGIN {
            n = ok > 0 ? ok : 1
            printf "%s %s %.2f %s %s %.2f %.2f %s\n", s, r, ok / (t1 - t0), p50, p99,
                dc * 1000 / clk / n, dp * 1000 / clk / n, f
        }' >>"$results"
}

echo "machine    $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "database   PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (Unix socket, fsync on, synchronous_commit on)"
echo "load       $THREADS threads x $REQUESTS requests per run (pg2: half on each node), RSA-$CA_BITS CA, $WORKERS workers per scepd, $ROUNDS rounds"

for u in "$url_sqlite" "$url_pg1" "$url_pg2a" "$url_pg2b"; do
    "$load" --url "$u" --challenge "$challenge" --threads 1 --requests "$WARMUP" >/dev/null 2>&1 ||
        { echo "pg_run.sh: warm-up against $u failed" >&2; failed=1; }
done
for r in $(seq 1 "$ROUNDS"); do
    run sqlite "$r"
    run pg1 "$r"
    run pg2 "$r"
done

echo
printf '%-6s %-7s %10s %8s %8s %14s %14s %8s\n' round setup enroll/s p50_ms p99_ms \
    scepd_cpu_ms pg_cpu_ms failures
awk '{ printf "%-6s %-7s %10s %8s %8s %14s %14s %8s\n", $2, $1, $3, $4, $5, $6, $7, $8 }' "$results"

awk "$BENCH_AWK_MEDIAN"'
    { srv[NR] = $1; for (c = 3; c <= 7; c++) f[NR, c] = $c }
    END {
        split("enroll/s p50_ms p99_ms scepd_cpu_ms pg_cpu_ms", label, " ")
        printf "\n%-16s", "median"
        for (c = 3; c <= 7; c++) printf " %12s", label[c - 2]
        n = split("sqlite pg1 pg2", names, " ")
        for (k = 1; k <= n; k++) {
            printf "\n%-16s", names[k]
            for (c = 3; c <= 7; c++) { m[k, c] = median(names[k], c); printf " %12.2f", m[k, c] }
        }
        for (k = 2; k <= n; k++) {
            printf "\n%-16s", names[k] "/sqlite"
            for (c = 3; c <= 6; c++)
                if (m[1, c] > 0) printf " %12.2f", m[k, c] / m[1, c]; else printf " %12s", "n/a"
        }
        printf "\n(cpu: milliseconds per enrollment, all scepd processes of the set-up / the PostgreSQL server)\n"
    }' "$results"
exit $failed
