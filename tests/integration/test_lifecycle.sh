#!/usr/bin/env bash
# The CA's life around enrollments, end to end against the real scepd:
# a CA key readable by others stops scepd at start; a next CA made with
# scepctl is announced (GetCACaps GetNextCACert, GetNextCACert signed by
# the current CA) and becomes current at its activate-at time while
# scepd runs; a certificate of the old CA still renews afterwards; the
# body limit answers 413; a client that stalls is cut off at the read
# timeout.
. "$(dirname "$0")/lib.sh"
need curl openssl pki python3

say "scepd refuses to start when the CA key is readable by group"
scepd_start perms
scepd_stop
chmod 0640 "$SCEPD_STATE/ca.key"
rc=0
"$SCEPD" --state-dir "$SCEPD_STATE" --listen 127.0.0.1:0 --challenge "$IT_CHALLENGE" \
    >"$IT_WORK/perms.out" 2>"$IT_WORK/perms.err" || rc=$?
[ "$rc" -eq 1 ] || fail "scepd with a 0640 CA key exited $rc (want 1)"
grep -q 'accessible by group or others' "$IT_WORK/perms.err" || fail "no message about the key's permissions: $(cat "$IT_WORK/perms.err")"
grep -q 'serving SCEP' "$IT_WORK/perms.out" && fail "scepd served with a 0640 CA key"

say "enroll with strongSwan under the first CA"
scepd_start roll --ca-rsa-bits 2048
fetch_ca_certs "$IT_WORK/ca1"
rsa_key "$IT_WORK/k1.pem"
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca1" aes sha256 "CN=roll-1" \
    --password "$IT_CHALLENGE" || fail "enrollment under the first CA: $(cat "$IT_WORK/c1.pem.log")"
check_verifies "$IT_WORK/c1.pem" "$IT_WORK/ca1/ca.pem"
curl -sS "$SCEPD_URL?operation=GetCACaps" | tr -d '\r' | grep -qx GetNextCACert &&
    fail "GetNextCACert advertised without a next CA"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=GetNextCACert")
[ "$st" = 404 ] || fail "GetNextCACert without a next CA: status $st (want 404)"

say "scepctl makes the next CA; scepd announces it after a restart"
scepd_stop
at=$(( $(date +%s) + 12 ))
"$SCEPCTL" --state-dir "$SCEPD_STATE" ca rollover --activate-at "$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)" \
    >"$IT_WORK/rollover.out" 2>&1 || fail "scepctl ca rollover: $(cat "$IT_WORK/rollover.out")"
[ -s "$SCEPD_STATE/next/ca.crt" ] || fail "no next/ca.crt after ca rollover"
scepd_start roll --ca-rsa-bits 2048
curl -sS "$SCEPD_URL?operation=GetCACaps" | tr -d '\r' | grep -qx GetNextCACert ||
    fail "GetCACaps does not list GetNextCACert while a next CA waits"
ct=$(curl -sS -o "$IT_WORK/next.der" -w '%{content_type}' "$SCEPD_URL?operation=GetNextCACert")
[ "$ct" = application/x-x509-next-ca-cert ] || fail "GetNextCACert Content-Type '$ct'"
# RFC 8894 4.6.1: signed by the current CA; the content is a certs-only
# SignedData carrying the next CA.
openssl cms -verify -binary -inform DER -in "$IT_WORK/next.der" -CAfile "$IT_WORK/ca1/ca.pem" \
    -out "$IT_WORK/next-inner.der" 2>"$IT_WORK/cms.err" ||
    fail "GetNextCACert does not verify against the current CA: $(cat "$IT_WORK/cms.err")"
openssl pkcs7 -inform DER -in "$IT_WORK/next-inner.der" -print_certs -out "$IT_WORK/next-certs.pem" ||
    fail "GetNextCACert content is not a certs-only PKCS#7"
grep -q "$(openssl x509 -in "$SCEPD_STATE/next/ca.crt" -outform DER | base64 -w0 | cut -c1-60)" \
    <(openssl crl2pkcs7 -nocrl -certfile "$IT_WORK/next-certs.pem" -outform DER | base64 -w0) ||
    fail "GetNextCACert does not carry next/ca.crt"
cp "$SCEPD_STATE/next/ca.crt" "$IT_WORK/next-ca.pem"

say "at activate-at the running scepd switches to the next CA"
for i in $(seq 1 300); do
    [ "$(date +%s)" -gt $((at + 1)) ] && {
        curl -sS -o "$IT_WORK/cur.der" "$SCEPD_URL?operation=GetCACert"
        cmp -s "$IT_WORK/cur.der" <(openssl x509 -in "$IT_WORK/next-ca.pem" -outform DER) && break
    }
    sleep 0.1
done
cmp -s "$IT_WORK/cur.der" <(openssl x509 -in "$IT_WORK/next-ca.pem" -outform DER) ||
    fail "GetCACert still answers the old CA 15 s after activate-at"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=GetNextCACert")
[ "$st" = 404 ] || fail "GetNextCACert after the switch: status $st (want 404)"

say "a certificate of the old CA renews; the new one chains to the new CA"
fetch_ca_certs "$IT_WORK/ca2"
rsa_key "$IT_WORK/k2.pem"
sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/c2.pem" "$IT_WORK/ca2" aes sha256 "CN=roll-1" \
    --cert "$IT_WORK/c1.pem" --key "$IT_WORK/k1.pem" ||
    fail "renewal with the old CA's certificate: $(cat "$IT_WORK/c2.pem.log")"
check_verifies "$IT_WORK/c2.pem" "$IT_WORK/next-ca.pem"
check_same_key "$IT_WORK/c2.pem" "$IT_WORK/k2.pem"
check_stored "$IT_WORK/c2.pem"

say "a body over --max-body gets 413"
scepd_stop
scepd_start limits --max-body 2048 --read-timeout 2 --write-timeout 2
head -c 5000 /dev/urandom >"$IT_WORK/big.bin"
st=$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @"$IT_WORK/big.bin" \
    "$SCEPD_URL?operation=PKIOperation")
[ "$st" = 413 ] || fail "5000-byte POST with max_body 2048: status $st (want 413)"

say "a client that stalls mid-request is disconnected at the read timeout"
hostport=${SCEPD_URL#http://}
hostport=${hostport%%/*}
python3 - "${hostport%:*}" "${hostport##*:}" <<'PY' || fail "stalled connection was not closed within 8 s"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=8)
s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n")  # headers never end
start = time.monotonic()
try:
    data = s.recv(4096)
except socket.timeout:
    sys.exit(1)
# closed (b"") or an error answer, and well before our own 8 s guard
sys.exit(0 if time.monotonic() - start < 7 else 1)
PY
curl -sS -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "scepd stopped answering after the stalled client"
scepd_stop
