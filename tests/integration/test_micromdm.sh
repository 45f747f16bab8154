#!/usr/bin/env bash
# micromdm scepclient (Debian scep 2.1.0) enrolls against scepd: a legacy
# client that sends DES-CBC/SHA-1 by POST whatever the server advertises,
# so single DES is enabled (allow_des) and advertised; a server without
# allow_des refuses it with a signed badAlg and issues nothing.
# Checks: the certificate chains to scepd's CA (openssl verify), certifies
# the client's own key, carries the CN asked for, and is in the store
# byte for byte, visible through scepctl too.
. "$(dirname "$0")/lib.sh"
need scepclient openssl sqlite3 python3 curl

say "without allow_des, scepclient's single-DES request is refused and nothing issued"
scepd_start nodes
curl -fsS "$SCEPD_URL?operation=GetCACaps" | grep -qx 'scepd-DES' &&
    fail "GetCACaps advertises single DES although allow_des is off"
if mm_enroll nodes-dev1; then
    fail "scepclient enrolled with single DES although allow_des is off"
fi
[ -s "$IT_WORK/nodes-dev1/cert.pem" ] && fail "scepclient wrote a certificate with DES disabled"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 0 ] || fail "$n certificate(s) stored for a single-DES request"
store_sql "SELECT detail FROM audit WHERE kind = 'refuse';" | grep -q 'single DES is disabled' ||
    fail "no refuse audit event naming single DES: $(store_sql "SELECT detail FROM audit;")"
say "scepd.db is created 0600"
[ "$(stat -c %a "$SCEPD_STATE/scepd.db")" = 600 ] ||
    fail "scepd.db has mode $(stat -c %a "$SCEPD_STATE/scepd.db"), want 600"
scepd_stop

scepd_start mm --allow-des true
say "with allow_des, GetCACaps says so"
curl -fsS "$SCEPD_URL?operation=GetCACaps" | grep -qx 'scepd-DES' ||
    fail "GetCACaps lacks scepd-DES with allow_des on"

say "scepclient enrolls CN=dev1 with the challenge"
mm_enroll dev1 || fail "scepclient failed: $(tail -n 5 "$IT_WORK/dev1/log")"
[ -s "$IT_WORK/dev1/cert.pem" ] || fail "scepclient wrote no certificate"

say "the certificate verifies against \$STATE/ca.crt"
check_verifies "$IT_WORK/dev1/cert.pem" "$SCEPD_STATE/ca.crt"

say "the certificate's public key is the client's key"
check_same_key "$IT_WORK/dev1/cert.pem" "$IT_WORK/dev1/key.pem"

say "the subject carries CN=dev1"
openssl x509 -in "$IT_WORK/dev1/cert.pem" -noout -subject -nameopt RFC2253 | grep -q 'CN=dev1' ||
    fail "subject lacks CN=dev1: $(openssl x509 -in "$IT_WORK/dev1/cert.pem" -noout -subject)"

say "the certificate is in scepd.db, with its transaction id"
check_stored "$IT_WORK/dev1/cert.pem"
hex=$(cert_der_hex "$IT_WORK/dev1/cert.pem")
tid=$(store_sql "SELECT transaction_id FROM certificates WHERE hex(der) = '$hex';")
[ -n "$tid" ] || fail "stored certificate has no transaction_id"

say "scepctl list --json shows the serial"
serial=$(cert_serial "$IT_WORK/dev1/cert.pem")
"$SCEPCTL" --state-dir "$SCEPD_STATE" --json list >"$IT_WORK/list.json" ||
    fail "scepctl list --json failed"
python3 - "$IT_WORK/list.json" "$serial" <<'PY' || fail "scepctl list --json lacks serial $serial"
import json, sys
rows = json.load(open(sys.argv[1]))
want = sys.argv[2].upper().lstrip("0")
sys.exit(0 if any(str(r.get("serial", "")).upper().lstrip("0") == want for r in rows) else 1)
PY

say "a second enrollment with a new key gets a different certificate"
mm_enroll dev2 || fail "second scepclient run failed: $(tail -n 5 "$IT_WORK/dev2/log")"
check_verifies "$IT_WORK/dev2/cert.pem" "$SCEPD_STATE/ca.crt"
[ "$(cert_serial "$IT_WORK/dev2/cert.pem")" != "$serial" ] || fail "two enrollments got the same serial"
check_stored "$IT_WORK/dev2/cert.pem"

say "SIGTERM stops scepd with status 0"
scepd_stop
