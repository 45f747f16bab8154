#!/usr/bin/env bash
# Resource limits of the server process.  500 idle connections do not
# keep a new client from being served, and the read timeout closes them;
# max_connections is enforced (a worker stops accepting, and resumes once
# a connection closes); when accept(2) fails with EMFILE scepd neither
# spins nor floods its log, and serves again once descriptors are free.
. "$(dirname "$0")/lib.sh"
need curl python3

# cpu_ticks PID: user + system time of PID so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# metric NAME: the value of an unlabelled sample of scepd's /metrics.
metric() {
    curl -sS -m 5 "$base/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# hold_idle N SECONDS FLAG: opens N connections that never send a byte,
# touches FLAG once they are open, keeps them SECONDS, then reports on
# stdout how many the server had closed by then ("closed K").
hold_idle() {
    python3 - "${hostport%:*}" "${hostport##*:}" "$1" "$2" "$3" <<'PY'
import socket, sys, time
host, port, n, secs, flag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
socks = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
open(flag, "w").write("open\n")
time.sleep(secs)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print("closed", closed)
PY
}

wait_flag() {
    local i
    for i in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done
    fail "helper did not signal $1"
}

say "500 idle connections: a new client is still served; the read timeout closes them"
# One address holds all 500: the per-client limit (test_conn_abuse.sh)
# is off here, where the read deadline is what is tested.
scepd_start limits --workers 2 --read-timeout 2 --max-connections-per-client 0
base=${SCEPD_URL%/*}
hostport=${base#http://}
hold_idle 500 3.5 "$IT_WORK/idle500" >"$IT_WORK/idle500.out" &
idle=$!
wait_flag "$IT_WORK/idle500"
t0=$(date +%s%N)
curl -sS -m 3 -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "GetCACaps failed with 500 idle connections open"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1000 ] || fail "GetCACaps took $ms ms with 500 idle connections open"
n=$(metric scepd_connections)
[ "${n:-0}" -ge 500 ] || fail "scepd_connections is '$n' with 500 idle connections open"
wait "$idle"
read -r _ closed <"$IT_WORK/idle500.out"
[ "$closed" = 500 ] || fail "the read timeout closed $closed of 500 idle connections"
n=$(metric scepd_connections)
[ "$n" = 1 ] || fail "scepd_connections is '$n' after the idle connections closed (want 1)"

say "read_timeout is a deadline: a header trickled a byte at a time is cut off"
python3 - "${hostport%:*}" "${hostport##*:}" <<'PY' || fail "a trickling client kept its connection past the read timeout"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\nX-Slow: ")
start = time.monotonic()
try:
    while time.monotonic() - start < 8:
        s.sendall(b"a")
        time.sleep(0.3)
except OSError:
    pass
# Closed by scepd (the send failed) well before 8 s: read_timeout is 2 s.
sys.exit(0 if time.monotonic() - start < 5 else 1)
PY
n=$(metric scepd_read_deadlines_total)
[ "${n:-0}" -ge 1 ] || fail "scepd_read_deadlines_total is '$n' (want at least 1)"
scepd_stop

say "max_connections: a full worker stops accepting and resumes when one closes"
scepd_start maxconn --workers 1 --max-connections 4 --read-timeout 30
base=${SCEPD_URL%/*}
hostport=${base#http://}
python3 - "${hostport%:*}" "${hostport##*:}" "$IT_WORK/four" "$IT_WORK/release" <<'PY' &
import os, socket, sys, time
host, port, flag, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# A request begun on each as soon as it is connected, before the next
# is opened: a worker three quarters full closes connections that sent
# nothing to make room (test_conn_abuse.sh), and one that scepd accepted
# before its bytes came would be such a connection.
socks = []
for _ in range(4):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
open(flag, "w").write("open\n")
while not os.path.exists(release):
    time.sleep(0.05)
socks[0].close()
time.sleep(10)
PY
holder=$!
IT_PIDS+=("$holder")
wait_flag "$IT_WORK/four"
sleep 0.2
rc=0
curl -sS -m 1 -o /dev/null "$SCEPD_URL?operation=GetCACaps" 2>/dev/null || rc=$?
[ "$rc" = 28 ] || fail "a fifth connection over max_connections=4 got curl status $rc (want a timeout, 28)"
: >"$IT_WORK/release"
t0=$(date +%s%N)
curl -sS -m 5 -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "no service after a connection closed"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2000 ] || fail "service resumed only after $ms ms"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
for i in $(seq 1 50); do
    n=$(metric scepd_accept_paused_total)
    [ "${n:-0}" -ge 1 ] && break
    sleep 0.1
done
[ "${n:-0}" -ge 1 ] || fail "scepd_accept_paused_total is '$n' (want at least 1)"
scepd_stop

say "EMFILE: scepd neither spins nor floods its log, and recovers"
old=$(ulimit -Sn)
ulimit -Sn 64
scepd_start emfile --workers 1 --read-timeout 2
ulimit -Sn "$old"
base=${SCEPD_URL%/*}
hostport=${base#http://}
hold_idle 120 2.5 "$IT_WORK/many" >/dev/null &
many=$!
wait_flag "$IT_WORK/many"
sleep 0.3
a=$(cpu_ticks "$SCEPD_PID")
sleep 1
b=$(cpu_ticks "$SCEPD_PID")
say "CPU while out of descriptors: $((b - a)) ticks in 1 s"
[ $((b - a)) -lt 30 ] || fail "scepd used $((b - a)) clock ticks in 1 s while out of descriptors (spinning on accept)"
wait "$many"
kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd died when it ran out of descriptors"
lines=$(wc -l <"$SCEPD_LOG")
[ "$lines" -lt 100 ] || fail "scepd wrote $lines log lines while out of descriptors"
grep -q 'msg="accept failed; pausing accepts" error="Too many open files"' "$SCEPD_LOG" ||
    fail "no log line for the accept failure"
ok=0
for i in $(seq 1 50); do
    if curl -sS -m 2 -o /dev/null "$SCEPD_URL?operation=GetCACaps" 2>/dev/null; then ok=1; break; fi
    sleep 0.1
done
[ "$ok" = 1 ] || fail "scepd does not serve again once descriptors are free"
n=$(metric scepd_accept_errors_total)
[ "${n:-0}" -ge 1 ] || fail "scepd_accept_errors_total is '$n' (want at least 1)"
scepd_stop
