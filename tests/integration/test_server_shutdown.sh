#!/usr/bin/env bash
# Graceful shutdown under load.  PKCSReq bodies are made by strongSwan pki
# (captured, never forwarded, by scep_proxy.py), then sent at once over
# parallel connections, each body trickled over ~1.5 s, and scepd gets
# SIGTERM while every one of them is still arriving.  Every request that
# had reached scepd must be answered in full: HTTP 200, the body as long
# as its Content-Length, a CertRep that verifies and decrypts with the
# client's key to a certificate of this CA that is in the store.  New
# connections after SIGTERM are refused promptly, scepd exits 0, and the
# audit chain verifies.  Then: an idle connection does not hold the stop
# for the whole read timeout, a second SIGTERM ends the drain at once,
# SIGINT stops like SIGTERM and SIGHUP does not stop scepd.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl python3

N=16          # requests in flight at SIGTERM
READ_TIMEOUT=20

# wait_exit PID SECONDS: waits for PID to exit; sets EXIT_RC and EXIT_MS.
wait_exit() {
    local pid=$1 max=$2 t0 i
    t0=$(date +%s%N)
    for i in $(seq 1 $((max * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "scepd (pid $pid) still running ${max} s after the signal"
    EXIT_MS=$((($(date +%s%N) - t0) / 1000000))
    EXIT_RC=0
    wait "$pid" || EXIT_RC=$?
}

scepd_start shut --workers 2 --read-timeout "$READ_TIMEOUT" --write-timeout "$READ_TIMEOUT"
fetch_ca_certs "$IT_WORK/ca"
hostport=${SCEPD_URL#http://}
hostport=${hostport%%/*}
path=/${SCEPD_URL#http://*/}

say "capturing $N PKCSReq bodies from strongSwan pki (not forwarded)"
proxy_start cap --capture "$IT_WORK/req.der"
mkdir -p "$IT_WORK/req" "$IT_WORK/resp"
for i in $(seq 1 "$N"); do
    rsa_key "$IT_WORK/req/k$i.pem"
    rm -f "$IT_WORK/req.der"
    SCEPD_URL=$PROXY_URL sw_enroll "$IT_WORK/req/k$i.pem" "$IT_WORK/req/c$i.out" "$IT_WORK/ca" \
        aes sha256 "CN=shut-$i" --password "$IT_CHALLENGE" && fail "pki succeeded through the capturing proxy"
    [ -s "$IT_WORK/req.der" ] || fail "the proxy captured no PKIOperation for request $i"
    mv "$IT_WORK/req.der" "$IT_WORK/req/$i.der"
done
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 0 ] || fail "a captured request reached scepd ($n certificates stored)"

# The client: one thread per body; each sends its headers, then the body
# in small pieces over DRIBBLE seconds, then reads the reply to the end
# (Content-Length, or EOF).  Writes "started" to STARTED once every
# connection is open and its headers are sent, and one line per request
# to stdout: INDEX RESULT STATUS CONTENT_LENGTH RECEIVED.
cat >"$IT_WORK/client.py" <<'PY'
import socket, sys, threading, time
host, port, path, reqdir, respdir, started, n, dribble = sys.argv[1:9]
port, n, dribble = int(port), int(n), float(dribble)
results = [None] * n
opened = threading.Barrier(n + 1)

def one(i):
    body = open("%s/%d.der" % (reqdir, i + 1), "rb").read()
    try:
        s = socket.create_connection((host, port), timeout=60)
        s.sendall(("POST %s?operation=PKIOperation HTTP/1.1\r\nHost: %s:%d\r\n"
                   "Content-Type: application/x-pki-message\r\nContent-Length: %d\r\n\r\n"
                   % (path, host, port, len(body))).encode())
    except OSError as e:
        opened.wait()
        results[i] = "connect-failed 0 0 0"
        return
    opened.wait()
    try:
        pieces = 10
        step = (len(body) + pieces - 1) // pieces
        for k in range(pieces):
            s.sendall(body[k * step:(k + 1) * step])
            time.sleep(dribble / pieces)
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
        if b"\r\n\r\n" not in data:
            results[i] = "no-response 0 0 %d" % len(data)
            return
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        clen = -1
        for l in lines[1:]:
            k, _, v = l.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v.strip())
        while clen < 0 or len(rest) < clen:
            b = s.recv(65536)
            if not b:
                break
            rest += b
        open("%s/%d.der" % (respdir, i + 1), "wb").write(rest)
        kind = "complete" if clen >= 0 and len(rest) == clen else "truncated"
        results[i] = "%s %d %d %d" % (kind, status, clen, len(rest))
    except OSError as e:
        results[i] = "error:%s 0 0 0" % type(e).__name__

threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
opened.wait()
open(started, "w").write("started\n")
for t in threads:
    t.join()
for i, r in enumerate(results):
    print(i + 1, r)
PY

say "$N PKCSReq in flight, each body arriving over 1.5 s; SIGTERM in the middle"
python3 "$IT_WORK/client.py" "${hostport%:*}" "${hostport##*:}" "$path" "$IT_WORK/req" \
    "$IT_WORK/resp" "$IT_WORK/started" "$N" 1.5 >"$IT_WORK/results" 2>"$IT_WORK/client.err" &
client=$!
for i in $(seq 1 200); do
    [ -e "$IT_WORK/started" ] && break
    sleep 0.05
done
[ -e "$IT_WORK/started" ] || fail "the client did not open its connections"
sleep 0.5
kill -TERM "$SCEPD_PID"
sleep 0.2
say "a new connection after SIGTERM is refused, not left hanging"
t0=$(date +%s%N)
rc=0
curl -sS -m 5 -o /dev/null "$SCEPD_URL?operation=GetCACaps" 2>/dev/null || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 7 ] || [ "$rc" = 56 ] || [ "$rc" = 52 ] ||
    fail "a connection made after SIGTERM got curl status $rc (want refused or reset)"
[ "$ms" -lt 2000 ] || fail "a connection made after SIGTERM took $ms ms to be refused"
wait_exit "$SCEPD_PID" 15
[ "$EXIT_RC" = 0 ] || fail "scepd exited $EXIT_RC after SIGTERM (want 0)"
say "scepd exited 0, $EXIT_MS ms after SIGTERM"
wait "$client" || fail "the client failed: $(cat "$IT_WORK/client.err")"

say "every request in flight was answered in full, with a certificate that is stored"
ok=0
while read -r i kind status clen got; do
    [ "$kind" = complete ] || fail "request $i: $kind (status $status, Content-Length $clen, got $got bytes)"
    [ "$status" = 200 ] || fail "request $i: HTTP $status"
    r=$IT_WORK/resp/$i
    # -noverify skips the chain of the signer, not the signature.
    openssl cms -verify -noverify -inform DER -in "$r.der" -binary -out "$r.env" 2>"$r.err" ||
        fail "request $i: the CertRep does not verify: $(cat "$r.err")"
    openssl cms -decrypt -inform DER -in "$r.env" -inkey "$IT_WORK/req/k$i.pem" -binary \
        -out "$r.p7" 2>"$r.err" || fail "request $i: cannot decrypt the CertRep: $(cat "$r.err")"
    openssl pkcs7 -inform DER -in "$r.p7" -print_certs -out "$r.all" 2>"$r.err" ||
        fail "request $i: no certificates in the CertRep"
    awk '/BEGIN CERT/{n++} n==1{print}' "$r.all" >"$r.crt"
    check_verifies "$r.crt" "$SCEPD_STATE/ca.crt"
    check_same_key "$r.crt" "$IT_WORK/req/k$i.pem"
    check_stored "$r.crt"
    ok=$((ok + 1))
done <"$IT_WORK/results"
[ "$ok" = "$N" ] || fail "only $ok of $N requests were answered"
grep -q 'msg=shutdown signal=SIGTERM' "$SCEPD_LOG" || fail "no shutdown line in the log"
grep -q 'msg=stopped' "$SCEPD_LOG" || fail "no stopped line in the log"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null || fail "scepctl audit --verify failed"

say "an idle connection is closed soon after SIGTERM, not at the read timeout"
scepd_start shut --workers 1 --read-timeout "$READ_TIMEOUT"
hostport=${SCEPD_URL#http://}
hostport=${hostport%%/*}
python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").write("open\n")
time.sleep(30)
' "${hostport%:*}" "${hostport##*:}" "$IT_WORK/idle.open" &
idle=$!
IT_PIDS+=("$idle")
for i in $(seq 1 100); do [ -e "$IT_WORK/idle.open" ] && break; sleep 0.05; done
sleep 0.2
kill -TERM "$SCEPD_PID"
wait_exit "$SCEPD_PID" 10
[ "$EXIT_RC" = 0 ] || fail "scepd exited $EXIT_RC after SIGTERM with an idle connection"
[ "$EXIT_MS" -lt 5000 ] || fail "an idle connection held the shutdown for $EXIT_MS ms"
say "exited 0 in $EXIT_MS ms with an idle connection open"
kill "$idle" 2>/dev/null || true

say "a second SIGTERM ends the drain at once"
scepd_start shut --workers 1 --read-timeout "$READ_TIMEOUT"
hostport=${SCEPD_URL#http://}
hostport=${hostport%%/*}
# A request whose body keeps coming, a byte a second: it is making
# progress, so the drain waits for it.
python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
open(sys.argv[3], "w").write("open\n")
for i in range(60):
    try:
        s.sendall(b"0")
    except OSError:
        break
    time.sleep(0.5)
' "${hostport%:*}" "${hostport##*:}" "$IT_WORK/slow.open" &
slow=$!
IT_PIDS+=("$slow")
for i in $(seq 1 100); do [ -e "$IT_WORK/slow.open" ] && break; sleep 0.05; done
sleep 0.2
kill -TERM "$SCEPD_PID"
sleep 3
kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd did not wait for a request still arriving"
kill -TERM "$SCEPD_PID"
wait_exit "$SCEPD_PID" 3
[ "$EXIT_RC" = 0 ] || fail "scepd exited $EXIT_RC after a second SIGTERM (want 0)"
grep -q 'second stop signal' "$SCEPD_LOG" || fail "no log line for the second signal"
kill "$slow" 2>/dev/null || true

say "SIGHUP does not stop scepd (it looks for a next CA); SIGINT stops it like SIGTERM"
scepd_start shut --workers 1
kill -HUP "$SCEPD_PID"
sleep 0.3
kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd died on SIGHUP"
curl -sS -m 5 -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "scepd stopped serving after SIGHUP"
grep -q 'msg="SIGHUP' "$SCEPD_LOG" || fail "no log line for SIGHUP"
kill -INT "$SCEPD_PID"
wait_exit "$SCEPD_PID" 10
[ "$EXIT_RC" = 0 ] || fail "scepd exited $EXIT_RC after SIGINT (want 0)"
grep -q 'msg=shutdown signal=SIGINT' "$SCEPD_LOG" || fail "no shutdown line for SIGINT"
