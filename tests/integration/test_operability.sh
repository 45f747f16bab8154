#!/usr/bin/env bash
# What an administrator meets in the first hour (issue "operability"):
# scepd -t checks a configuration and the state it names and creates
# nothing; the shipped example configuration passes it; every flag of
# the configuration table is accepted; a generated first-start challenge
# is named by its 0600 file, not printed, when stdout is not a terminal;
# a refusal is logged at warn.
. "$(dirname "$0")/lib.sh"
need pki openssl
EXAMPLE=$SCEP_IT_DIR/../../dist/scepd.conf.example

say "scepd -t passes the shipped example and creates nothing"
"$SCEPD" -t -c "$EXAMPLE" --state-dir "$IT_WORK/fresh" >"$IT_WORK/t.out" 2>"$IT_WORK/t.err" ||
    fail "scepd -t on the example failed: $(cat "$IT_WORK/t.err")"
grep -q "^scepd: configuration .*scepd.conf.example ok$" "$IT_WORK/t.out" ||
    fail "no 'configuration ... ok' line: $(cat "$IT_WORK/t.out")"
grep -q "profiles: default at /scep, wifi, vpn" "$IT_WORK/t.out" || fail "profiles not listed: $(cat "$IT_WORK/t.out")"
[ ! -e "$IT_WORK/fresh" ] || fail "scepd -t created the state directory"

say "every key is a flag, the last rule keys included"
"$SCEPD" -t --state-dir "$IT_WORK/fresh" --san-required false --uri-pattern 'https://.*' \
    --rate-challenge-burst 3 >/dev/null 2>"$IT_WORK/t.err" || fail "flags refused: $(cat "$IT_WORK/t.err")"

say "a bad profile setting: exit 2 with FILE:LINE"
printf '[profile vpn]\nvalidity_days = 30\next_key_usage = clientAuth,bogusEKU\n' >"$IT_WORK/bad.conf"
rc=0
"$SCEPD" -t -c "$IT_WORK/bad.conf" --state-dir "$IT_WORK/fresh" >/dev/null 2>"$IT_WORK/t.err" || rc=$?
[ "$rc" = 2 ] || fail "scepd -t on a bad EKU exited $rc (want 2)"
grep -q "bad.conf:3: ext_key_usage" "$IT_WORK/t.err" || fail "no FILE:LINE reason: $(cat "$IT_WORK/t.err")"

say "a state_dir that is a file: exit 2"
: >"$IT_WORK/afile"
rc=0
"$SCEPD" -t --state-dir "$IT_WORK/afile" >/dev/null 2>"$IT_WORK/t.err" || rc=$?
[ "$rc" = 2 ] && grep -q "not a directory" "$IT_WORK/t.err" || fail "state_dir a file: rc $rc, $(cat "$IT_WORK/t.err")"

say "a state directory scepd may not write: the message says permission denied"
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1 && runuser -u nobody -- "$SCEPD" --version >/dev/null 2>&1; then
    mkdir -p "$IT_WORK/ro/st"
    chmod 755 "$IT_WORK" "$IT_WORK/ro"
    chmod 555 "$IT_WORK/ro/st"
    rc=0
    runuser -u nobody -- "$SCEPD" --state-dir "$IT_WORK/ro/st" --listen 127.0.0.1:0 --challenge x \
        >/dev/null 2>"$IT_WORK/ro.err" || rc=$?
    [ "$rc" = 1 ] || fail "scepd on an unwritable state directory exited $rc (want 1)"
    grep -q "cannot create a CA in $IT_WORK/ro/st: Permission denied" "$IT_WORK/ro.err" ||
        fail "the message does not say permission denied: $(cat "$IT_WORK/ro.err")"
else
    say "(skipped: needs root and runuser, and the build readable by nobody)"
fi

say "first start without a challenge: the secret goes to a 0600 file, stdout names the file"
state=$IT_WORK/first
"$SCEPD" --state-dir "$state" --listen 127.0.0.1:0 >"$IT_WORK/first.out" 2>"$IT_WORK/first.log" &
pid=$!
IT_PIDS+=("$pid")
for i in $(seq 1 200); do grep -q '^scepd: serving SCEP at ' "$IT_WORK/first.out" && break; sleep 0.1; done
url=$(sed -n 's/^scepd: serving SCEP at //p' "$IT_WORK/first.out")
[ -n "$url" ] || fail "scepd did not start: $(cat "$IT_WORK/first.log")"
[ "$(stat -c %a "$state/challenge")" = 600 ] || fail "challenge file mode $(stat -c %a "$state/challenge")"
secret=$(head -n 1 "$state/challenge")
grep -q "challenge password generated in $state/challenge (mode 0600)" "$IT_WORK/first.out" ||
    fail "stdout does not name the challenge file: $(cat "$IT_WORK/first.out")"
grep -qF -- "$secret" "$IT_WORK/first.out" "$IT_WORK/first.log" && fail "the generated challenge was printed"

say "a refusal is logged at warn"
SCEPD_URL=$url SCEPD_STATE=$state fetch_ca_certs "$IT_WORK/ca"
rsa_key "$IT_WORK/k.pem"
SCEPD_URL=$url sw_enroll "$IT_WORK/k.pem" "$IT_WORK/c.pem" "$IT_WORK/ca" aes sha256 "CN=nope" \
    --password wrong && fail "a wrong challenge was accepted"
grep 'msg=request' "$IT_WORK/first.log" | grep 'op=PKIOperation' | grep -q '^time=[^ ]* level=warn ' ||
    fail "the refusal was not logged at warn: $(grep op=PKIOperation "$IT_WORK/first.log" | tail -n 1)"
grep 'op=GetCACert' "$IT_WORK/first.log" | grep -q 'level=info' || fail "a success is not logged at info"

say "scepd -t on the state it made: the CA loads; a group-readable key is refused"
"$SCEPD" -t --state-dir "$state" >"$IT_WORK/t.out" 2>"$IT_WORK/t.err" || fail "-t on a good state: $(cat "$IT_WORK/t.err")"
grep -q '^scepd: CA ok: ' "$IT_WORK/t.out" || fail "no 'CA ok' line: $(cat "$IT_WORK/t.out")"
grep -q '^scepd: store ok: ' "$IT_WORK/t.out" || fail "no 'store ok' line: $(cat "$IT_WORK/t.out")"
chmod 640 "$state/ca.key"
rc=0
"$SCEPD" -t --state-dir "$state" >/dev/null 2>"$IT_WORK/t.err" || rc=$?
chmod 600 "$state/ca.key"
[ "$rc" = 2 ] && grep -q "accessible by group or others" "$IT_WORK/t.err" ||
    fail "a group-readable CA key: rc $rc, $(cat "$IT_WORK/t.err")"
say "scepd -t loads the TLS listener's files: a key of another certificate is refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$IT_WORK/tls.key" -out "$IT_WORK/tls.crt" 2>/dev/null || fail "openssl req"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$IT_WORK/other.key" 2>/dev/null ||
    fail "openssl genpkey"
chmod 600 "$IT_WORK/tls.key" "$IT_WORK/other.key"
printf '[tls]\ntls_listen = 127.0.0.1:0\ntls_cert = %s\ntls_key = %s\n' "$IT_WORK/tls.crt" \
    "$IT_WORK/tls.key" >"$IT_WORK/tls.conf"
"$SCEPD" -t -c "$IT_WORK/tls.conf" --state-dir "$state" >"$IT_WORK/t.out" 2>"$IT_WORK/t.err" ||
    fail "-t with a good TLS pair: $(cat "$IT_WORK/t.err")"
grep -q '^scepd: tls_listen 127.0.0.1:0: certificate and key ok' "$IT_WORK/t.out" ||
    fail "no TLS ok line: $(cat "$IT_WORK/t.out")"
printf '[tls]\ntls_listen = 127.0.0.1:0\ntls_cert = %s\ntls_key = %s\n' "$IT_WORK/tls.crt" \
    "$IT_WORK/other.key" >"$IT_WORK/tls.conf"
rc=0
"$SCEPD" -t -c "$IT_WORK/tls.conf" --state-dir "$state" >/dev/null 2>"$IT_WORK/t.err" || rc=$?
[ "$rc" = 2 ] && grep -q "does not match tls_cert" "$IT_WORK/t.err" ||
    fail "a mismatched TLS key: rc $rc, $(cat "$IT_WORK/t.err")"
printf '[tls]\ntls_listen = 127.0.0.1:0\ntls_cert = %s\ntls_key = %s\n' "$IT_WORK/missing.crt" \
    "$IT_WORK/tls.key" >"$IT_WORK/tls.conf"
rc=0
"$SCEPD" -t -c "$IT_WORK/tls.conf" --state-dir "$state" >/dev/null 2>"$IT_WORK/t.err" || rc=$?
[ "$rc" = 2 ] && grep -q "missing.crt" "$IT_WORK/t.err" ||
    fail "a missing TLS certificate: rc $rc, $(cat "$IT_WORK/t.err")"
kill -TERM "$pid"
wait "$pid" || fail "scepd exited $? after SIGTERM"

say "under systemd (Type=notify): READY=1 once serving, STOPPING=1 on SIGTERM"
python3 - "$IT_WORK/notify.sock" "$IT_WORK/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a") as log:
    for _ in range(2):
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        log.write(msg.replace("\n", " ") + "\n")
        log.flush()
PY
IT_PIDS+=("$!")
for i in $(seq 1 50); do [ -S "$IT_WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$IT_WORK/notify.sock scepd_start notified
for i in $(seq 1 50); do grep -q READY=1 "$IT_WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q "^READY=1 STATUS=serving SCEP at $SCEPD_URL$" "$IT_WORK/notify.log" ||
    fail "no READY=1 with the URL: $(cat "$IT_WORK/notify.log" 2>/dev/null)"
scepd_stop
for i in $(seq 1 50); do grep -q STOPPING=1 "$IT_WORK/notify.log" && break; sleep 0.1; done
grep -q "^STOPPING=1$" "$IT_WORK/notify.log" || fail "no STOPPING=1: $(cat "$IT_WORK/notify.log")"
