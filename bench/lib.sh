# shellcheck shell=bash disable=SC2034  # BENCH_* are read by the drivers
# bench/lib.sh: the pieces the benchmark drivers share (sourced by
# run.sh, pg_run.sh and series.sh, not run): starting scepd and
# micromdm's scepserver on 127.0.0.1 and waiting until they serve,
# stopping them, and reading a server's CPU time and memory from /proc.
#
# Nothing here exits or installs a trap: a driver decides what a server
# that does not start means, and stops what it started (the start
# functions append each pid to BENCH_PIDS for the driver's cleanup).
#
# Variables a driver sets before use:
#   BENCH_SCEPD       the scepd executable
#   BENCH_CHALLENGE   the challenge password every server gets
#   BENCH_SCEPSERVER  micromdm's scepserver (default: scepserver on PATH)
#   BENCH_START_TIMEOUT seconds to wait for a server (default 60: a store
#                     of a million certificates opens in a few seconds)
# Set by the start functions: BENCH_PID, BENCH_URL, BENCH_START_MS (from
# exec to ready, in milliseconds, measured by polling every 10 ms).

BENCH_PIDS=()
BENCH_SCEPSERVER=${BENCH_SCEPSERVER:-scepserver}
BENCH_START_TIMEOUT=${BENCH_START_TIMEOUT:-60}

# bench_challenge: a fresh challenge of printable characters.
bench_challenge() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

# bench_free_port: a TCP port free right now on 127.0.0.1.  For
# scepserver, which cannot listen on port 0; the window before it binds
# the port is acceptable on a test machine.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bench_now_ms: a monotonic-enough clock in milliseconds.
bench_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# bench_scepd_start STATE_DIR LOG [scepd flags...]: starts scepd on
# 127.0.0.1, port 0, with its state in STATE_DIR (made on first start)
# and stdout and stderr in LOG, and waits for its "serving SCEP at" line.
# The per-client connection limit is off: a load generator is one host
# (a later --max-connections-per-client in the flags wins).
# Returns 0 with BENCH_PID, BENCH_URL and BENCH_START_MS set, or 1 (the
# log's contents on stderr) when scepd exited or did not answer in time.
bench_scepd_start() {
    local state=$1 log=$2 t0 i u=
    shift 2
    : >"$log" # polled below before the child may have opened it
    t0=$(bench_now_ms)
    "$BENCH_SCEPD" --state-dir "$state" --listen 127.0.0.1:0 --challenge "$BENCH_CHALLENGE" \
        --max-connections-per-client 0 "$@" >"$log" 2>&1 &
    BENCH_PID=$!
    BENCH_PIDS+=("$BENCH_PID")
    for ((i = 0; i < BENCH_START_TIMEOUT * 100; i++)); do
        u=$(sed -n 's/^scepd: serving SCEP at //p' "$log")
        [ -n "$u" ] && break
        kill -0 "$BENCH_PID" 2>/dev/null || break
        sleep 0.01
    done
    BENCH_START_MS=$(($(bench_now_ms) - t0))
    BENCH_URL=$u
    if [ -z "$u" ]; then
        echo "scepd did not start ($*):" >&2
        cat "$log" >&2
        return 1
    fi
    return 0
}

# bench_scepserver_start DIR BITS LOG: micromdm's scepserver with its
# depot in DIR/depot (a CA of RSA-BITS made there first when there is
# none), on a free port; waits until GetCACaps answers.  A port taken by
# another program between bench_free_port and scepserver's bind (it then
# exits "address already in use") is retried with another, five times.
# Returns 0 with BENCH_PID, BENCH_URL and BENCH_START_MS set, or 1.
bench_scepserver_start() {
    local dir=$1 bits=$2 log=$3 port t0 i try
    mkdir -p "$dir"
    if [ ! -d "$dir/depot" ] &&
        ! (cd "$dir" && "$BENCH_SCEPSERVER" ca -init -keySize "$bits" -depot depot) >"$log" 2>&1; then
        echo "scepserver ca -init failed:" >&2
        cat "$log" >&2
        return 1
    fi
    for ((try = 0; try < 5; try++)); do
        port=$(bench_free_port)
        t0=$(bench_now_ms)
        (cd "$dir" && exec "$BENCH_SCEPSERVER" -depot depot -port "$port" \
            -challenge "$BENCH_CHALLENGE") >>"$log" 2>&1 &
        BENCH_PID=$!
        BENCH_PIDS+=("$BENCH_PID")
        BENCH_URL=http://127.0.0.1:$port/scep
        for ((i = 0; i < BENCH_START_TIMEOUT * 100; i++)); do
            if curl -sf -o /dev/null "$BENCH_URL?operation=GetCACaps"; then
                BENCH_START_MS=$(($(bench_now_ms) - t0))
                return 0
            fi
            kill -0 "$BENCH_PID" 2>/dev/null || break
            sleep 0.01
        done
        bench_stop "$BENCH_PID"
        grep -q 'address already in use' "$log" || break
    done
    echo "scepserver did not start:" >&2
    cat "$log" >&2
    return 1
}

# bench_stop PID: SIGTERM and wait (SIGKILL after 10 s); the pid leaves
# BENCH_PIDS, so that a later bench_stop_all cannot hit a process that
# reused it.
bench_stop() {
    local i p keep=()
    for p in "${BENCH_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]}")
    kill "$1" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# bench_stop_all: stops every server the start functions started.
bench_stop_all() {
    local p all=("${BENCH_PIDS[@]}")
    for p in "${all[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${all[@]}"; do bench_stop "$p"; done
}

# bench_cpu_ticks PID...: summed utime + stime, in clock ticks (fields
# 14 and 15 of stat; no server here has a space in its command name);
# a process that is gone counts 0.
bench_cpu_ticks() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# bench_mem_kb PID KEY: a field of /proc/PID/status in kB (VmRSS: now;
# VmHWM: the peak since start or since bench_peak_reset); empty if gone.
bench_mem_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# bench_peak_reset PID: restarts VmHWM from the current RSS (Linux 4.0+:
# "5" to clear_refs), so that a run's peak is its own.  Returns 1 when
# the kernel refuses, and VmHWM then stays the peak since start.
bench_peak_reset() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

# bench_field LINE KEY: the value of KEY=... in a scep_load RESULT line.
bench_field() { printf ' %s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

# An awk function for result tables of rows "NAME ROUND v3 v4 ...":
# median(name, col) of column col over the rows of name (arrays srv[row]
# and f[row, col], which the caller's awk program fills).  Prepend it to
# the program: awk "$BENCH_AWK_MEDIAN"'...'.
# shellcheck disable=SC2034  # used by the scripts that source this file
BENCH_AWK_MEDIAN='
    function median(name, col,    n, i, j, t, a) {
        n = 0
        for (i = 1; i <= NR; i++) if (srv[i] == name) a[++n] = f[i, col]
        for (i = 2; i <= n; i++)   # insertion sort: a handful of rounds
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        if (n == 0) return 0
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
'
