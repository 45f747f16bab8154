#!/usr/bin/env bash
# The admin API (admin_listen) end to end, with Python's http.client and
# ssl (admin_api.py) against the real scepd: HTTPS with a certificate
# scepd issued itself (verified against its CA, hostname checked), 401
# without and with a bad token (WWW-Authenticate: Bearer), 403 by role,
# every endpoint's success and error cases as problem+json with the
# security headers, and the OpenAPI document listing exactly the routes
# served.  A challenge minted through the API enrolls micromdm's
# scepclient exactly once; a revocation through the API shows in the CRL
# (/crl, openssl crl) and in OCSP (openssl ocsp); requests held by a
# manual profile are approved (strongSwan pki then gets its certificate)
# and rejected through the API; failed authentications end in 429 and
# are counted in /metrics, which metrics_listen = admin moves to the
# admin listener behind a token.
. "$(dirname "$0")/lib.sh"

need curl openssl python3 scepclient pki

API=(python3 "$SCEP_IT_DIR/admin_api.py")
ctl() { "$SCEPCTL" --state-dir "$IT_WORK/api" "$@"; }

cat >"$IT_WORK/scepd.conf" <<CONF
[admin]
admin_listen = 127.0.0.1:0
metrics_listen = admin
admin_auth_fail_per_minute = 1
admin_auth_fail_burst = 8

[enroll]
allow_des = true

[profile held]
approval = manual
challenge = $IT_CHALLENGE
CONF

say "no token exists before one is minted: no default credentials"
scepd_start api --config "$IT_WORK/scepd.conf" --ca-rsa-bits 2048
line=$(grep -m1 '^scepd: serving the admin API at ' "$IT_WORK/api.scepd.out") ||
    fail "no admin API ready line: $(cat "$IT_WORK/api.scepd.out")"
export ADMIN_URL=${line#scepd: serving the admin API at }
case $ADMIN_URL in
    https://127.0.0.1:*/api/v1) ;;
    *) fail "unexpected admin URL '$ADMIN_URL'" ;;
esac
grep -q '^scepd: serving SCEP at http://127.0.0.1:' "$IT_WORK/api.scepd.out" ||
    fail "the SCEP ready line changed"
ctl token list >"$IT_WORK/tokens0.txt" 2>&1 || fail "scepctl token list: $(cat "$IT_WORK/tokens0.txt")"
grep -q '^no tokens' "$IT_WORK/tokens0.txt" || fail "tokens exist before any was minted"
export ADMIN_CA=$SCEPD_STATE/ca.crt
BASE=${SCEPD_URL%/scep}

say "the admin listener's certificate: issued by the CA, key 0600, TLS 1.2+"
[ "$(stat -c %a "$SCEPD_STATE/admin/tls.key")" = 600 ] || fail "admin key mode is not 0600"
openssl verify -CAfile "$ADMIN_CA" "$SCEPD_STATE/admin/tls.crt" >/dev/null 2>&1 ||
    fail "the admin certificate does not verify against the CA"
openssl x509 -in "$SCEPD_STATE/admin/tls.crt" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
    fail "the admin certificate does not name 127.0.0.1"
hp=${ADMIN_URL#https://}
hp=${hp%%/*}
if echo | openssl s_client -connect "$hp" -tls1_1 >/dev/null 2>&1; then
    fail "the admin listener accepted TLS 1.1"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$hp/api/v1/me" || true)
[ "$code" != 200 ] || fail "the admin listener answered plain HTTP"

say "tokens minted with scepctl: the token alone on stdout, only its hash stored"
TOK_ADMIN=$(ctl token new --name ci-admin --role admin 2>"$IT_WORK/tok.err") ||
    fail "scepctl token new: $(cat "$IT_WORK/tok.err")"
TOK_OPERATOR=$(ctl token new --name ci-operator --role operator --ttl 1d 2>/dev/null)
TOK_AUDITOR=$(ctl token new --name ci-auditor --role auditor 2>/dev/null)
export TOK_ADMIN TOK_OPERATOR TOK_AUDITOR
[[ $TOK_ADMIN =~ ^scepd_[0-9a-f]{64}$ ]] || fail "token output is not the token alone: '$TOK_ADMIN'"
grep -q "role admin" "$IT_WORK/tok.err" || fail "scepctl token new said nothing on stderr"
if grep -a -q "${TOK_ADMIN#scepd_}" "$SCEPD_STATE/scepd.db"; then
    fail "the token itself is in the database"
fi
ctl --json token new --name ci-json --role auditor >"$IT_WORK/tok.json" 2>/dev/null
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["token"].startswith("scepd_") and d["role"]=="auditor"' \
    "$IT_WORK/tok.json" || fail "token new --json: $(cat "$IT_WORK/tok.json")"

say "authentication and roles"
"${API[@]}" auth || fail "authentication checks failed"

say "the OpenAPI document lists exactly the routes served"
"${API[@]}" openapi || fail "OpenAPI checks failed"

say "a challenge minted through the API enrolls micromdm scepclient exactly once"
"${API[@]}" challenge >"$IT_WORK/chal.txt" || fail "minting a challenge failed"
OTP=$(sed -n 1p "$IT_WORK/chal.txt")
[ -n "$OTP" ] || fail "no challenge printed"
mm_enroll api-dev1 "$OTP" || fail "micromdm with the API's challenge: $(cat "$IT_WORK/api-dev1/log")"
[ -s "$IT_WORK/api-dev1/cert.pem" ] || fail "micromdm got no certificate"
if mm_enroll api-dev2 "$OTP"; then
    [ -s "$IT_WORK/api-dev2/cert.pem" ] && fail "the one-time challenge enrolled a second device"
fi
"${API[@]}" challenge_errors || fail "challenge error checks failed"

say "the certificate through the API: listed, details, PEM and chain"
SERIAL=$("${API[@]}" cert api-dev1) || fail "certificate checks failed"
[ "$(cert_serial "$IT_WORK/api-dev1/cert.pem")" = "$SERIAL" ] ||
    fail "the API's serial $SERIAL is not micromdm's certificate's"
mm_enroll api-dev3 "$IT_CHALLENGE" || fail "micromdm with the static challenge failed"

say "requests held by a manual profile: approve and reject through the API"
fetch_ca_certs "$IT_WORK/ca"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k1.pem" 2>/dev/null
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k2.pem" 2>/dev/null
SCEP_PUBLIC=$SCEPD_URL
SCEPD_URL=$SCEP_PUBLIC/held
( sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/held1.pem" "$IT_WORK/ca" aes sha256 "CN=held-1" \
    --password "$IT_CHALLENGE" --maxpolltime 40 ) &
held1=$!
( sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/held2.pem" "$IT_WORK/ca" aes sha256 "CN=held-2" \
    --password "$IT_CHALLENGE" --maxpolltime 40 ) &
held2=$!
IT_PIDS+=("$held1" "$held2")
SCEPD_URL=$SCEP_PUBLIC
rid1= rid2=
for i in $(seq 1 60); do
    [ -n "$rid1" ] || rid1=$("${API[@]}" requests_pending held-1)
    [ -n "$rid2" ] || rid2=$("${API[@]}" requests_pending held-2)
    [ -n "$rid1" ] && [ -n "$rid2" ] && break
    sleep 0.5
done
[ -n "$rid1" ] && [ -n "$rid2" ] || fail "the held requests did not appear in GET /requests"
"${API[@]}" approve "$rid1" || fail "approve checks failed"
"${API[@]}" reject "$rid2" || fail "reject checks failed"
rc=0
wait "$held1" || rc=$?
[ "$rc" -eq 0 ] && [ -s "$IT_WORK/held1.pem" ] || fail "pki got no certificate after the API's approval"
rc=0
wait "$held2" || rc=$?
[ "$rc" -ne 0 ] || fail "pki got a certificate after the API's rejection"

say "revoke through the API: 403 for an auditor, then the CRL and OCSP say revoked"
"${API[@]}" revoke "$SERIAL" || fail "revocation checks failed"
listed=0
for i in $(seq 1 40); do
    curl -sS -o "$IT_WORK/crl.der" "$BASE/crl" || fail "curl /crl failed"
    openssl crl -inform DER -in "$IT_WORK/crl.der" -noout -text >"$IT_WORK/crl.txt" 2>&1 ||
        fail "/crl is not a DER CRL: $(cat "$IT_WORK/crl.txt")"
    if grep -Eiq "Serial Number: *0*$SERIAL\$" "$IT_WORK/crl.txt"; then
        listed=1
        break
    fi
    sleep 0.25
done
[ "$listed" = 1 ] || fail "the CRL does not list $SERIAL after 10 s"
grep -q "Key Compromise" "$IT_WORK/crl.txt" || fail "the CRL does not give the reason"
openssl ocsp -issuer "$ADMIN_CA" -CAfile "$ADMIN_CA" -url "$BASE/ocsp" \
    -cert "$IT_WORK/api-dev1/cert.pem" >"$IT_WORK/ocsp.txt" 2>&1 ||
    fail "openssl ocsp: $(cat "$IT_WORK/ocsp.txt")"
grep -q "cert.pem: revoked" "$IT_WORK/ocsp.txt" || fail "OCSP did not say revoked: $(cat "$IT_WORK/ocsp.txt")"
grep -q "Reason: keyCompromise" "$IT_WORK/ocsp.txt" || fail "OCSP gave no reason"

say "listing: filters and cursor paging"
"${API[@]}" list || fail "listing checks failed"

say "import through the API (PEM body), then the statistics add up"
"${API[@]}" import || fail "import checks failed"
head -c 70000 /dev/zero | tr '\0' A >"$IT_WORK/big.pem"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" -H "Authorization: Bearer $TOK_OPERATOR" \
    -H "Content-Type: text/plain" --data-binary @"$IT_WORK/big.pem" "$ADMIN_URL/certificates/import")
[ "$code" = 413 ] || fail "a 70 KB import (past max_body) answered $code (want 413)"
"${API[@]}" stats || fail "statistics checks failed"

say "the CAs, the audit trail with api:NAME actors, the chain verifies"
fp=$("${API[@]}" cas) || fail "CA checks failed"
[ "$fp" = "$(openssl x509 -in "$ADMIN_CA" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)" ] ||
    fail "GET /cas fingerprint $fp is not the CA's"
"${API[@]}" audit || fail "audit checks failed"
ctl audit verify >/dev/null 2>&1 || ctl audit >/dev/null 2>&1 || fail "scepctl audit failed"

say "token management through the API; scepctl token revoke ends a token at once"
"${API[@]}" tokens || fail "token API checks failed"
ctl token revoke ci-auditor >/dev/null 2>&1 || fail "scepctl token revoke"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" \
    -H "Authorization: Bearer $TOK_AUDITOR" "$ADMIN_URL/me")
[ "$code" = 401 ] || fail "a token revoked by scepctl answered $code (want 401)"
ctl token list >"$IT_WORK/tokens.txt" 2>&1
grep -Eq '^ci-auditor +auditor +revoked' "$IT_WORK/tokens.txt" ||
    fail "token list does not show ci-auditor revoked: $(cat "$IT_WORK/tokens.txt")"

say "metrics_listen = admin: /metrics behind a token there, gone from the public listener"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/metrics")
[ "$code" = 404 ] || fail "public /metrics answered $code with metrics_listen = admin"
curl -sS --cacert "$ADMIN_CA" -H "Authorization: Bearer $TOK_ADMIN" \
    "${ADMIN_URL%/api/v1}/metrics" >"$IT_WORK/metrics.txt" || fail "admin /metrics failed"
grep -Eq '^scepd_admin_auth_failures_total\{reason="unknown"\} [1-9]' "$IT_WORK/metrics.txt" ||
    fail "failed authentications not counted: $(grep auth "$IT_WORK/metrics.txt")"
grep -Eq '^scepd_admin_auth_failures_total\{reason="revoked"\} [1-9]' "$IT_WORK/metrics.txt" ||
    fail "revoked-token failures not counted"

say "failed authentications are rate-limited per address, and counted"
"${API[@]}" ratelimit || fail "rate-limit checks failed"
grep -q 'msg="admin API authentication failed"' "$SCEPD_LOG" || fail "no log line for a failed authentication"
if grep -q "$TOK_ADMIN" "$SCEPD_LOG"; then
    fail "a token reached the log"
fi
scepd_stop

say "a restart keeps the admin certificate; client certificates get their role by CN (admin_client_roles)"
cp "$SCEPD_STATE/admin/tls.crt" "$IT_WORK/tls1.crt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/cca.key" \
    -subj "/CN=Admins CA" -days 2 -out "$IT_WORK/cca.pem" >/dev/null 2>&1 || fail "client CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/alice.key" \
    -subj "/CN=alice" -out "$IT_WORK/alice.csr" >/dev/null 2>&1 || fail "client CSR"
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$IT_WORK/alice.ext"
openssl x509 -req -in "$IT_WORK/alice.csr" -CA "$IT_WORK/cca.pem" -CAkey "$IT_WORK/cca.key" \
    -CAcreateserial -days 1 -extfile "$IT_WORK/alice.ext" -out "$IT_WORK/alice.pem" >/dev/null 2>&1 ||
    fail "client certificate"
for who in ops-1 bob; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/$who.key" \
        -subj "/CN=$who" -out "$IT_WORK/$who.csr" >/dev/null 2>&1 || fail "client CSR $who"
    openssl x509 -req -in "$IT_WORK/$who.csr" -CA "$IT_WORK/cca.pem" -CAkey "$IT_WORK/cca.key" \
        -CAcreateserial -days 1 -extfile "$IT_WORK/alice.ext" -out "$IT_WORK/$who.pem" >/dev/null 2>&1 ||
        fail "client certificate $who"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/mallory.key" \
    -subj "/CN=mallory" -days 1 -out "$IT_WORK/mallory.pem" >/dev/null 2>&1 || fail "foreign certificate"
cat >"$IT_WORK/scepd2.conf" <<CONF
[admin]
admin_listen = 127.0.0.1:0
admin_client_ca = $IT_WORK/cca.pem
admin_client_role = auditor
admin_client_roles = alice:admin, ops-*:operator
CONF
scepd_start api --config "$IT_WORK/scepd2.conf"
cmp -s "$IT_WORK/tls1.crt" "$SCEPD_STATE/admin/tls.crt" || fail "the admin certificate was issued again"
line=$(grep -m1 '^scepd: serving the admin API at ' "$IT_WORK/api.scepd.out")
ADMIN_URL=${line#scepd: serving the admin API at }
curl -sS --cacert "$ADMIN_CA" --cert "$IT_WORK/alice.pem" --key "$IT_WORK/alice.key" \
    "$ADMIN_URL/me" >"$IT_WORK/me.json" || fail "a client certificate: $(cat "$IT_WORK/me.json")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["actor"]=="api-cert:alice" and d["role"]=="admin", d' \
    "$IT_WORK/me.json" || fail "client certificate principal: $(cat "$IT_WORK/me.json")"
for pair in ops-1:operator bob:auditor; do
    who=${pair%%:*}
    curl -sS --cacert "$ADMIN_CA" --cert "$IT_WORK/$who.pem" --key "$IT_WORK/$who.key" \
        "$ADMIN_URL/me" >"$IT_WORK/me.json" || fail "client certificate $who: $(cat "$IT_WORK/me.json")"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["role"]==sys.argv[2], d' \
        "$IT_WORK/me.json" "${pair#*:}" || fail "admin_client_roles for $who: $(cat "$IT_WORK/me.json")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" --cert "$IT_WORK/bob.pem" \
    --key "$IT_WORK/bob.key" -X POST -H 'Content-Type: application/json' -d '{"reason":"keyCompromise"}' \
    "$ADMIN_URL/certificates/01/revoke")
[ "$code" = 403 ] || fail "an auditor's client certificate revoking answered $code (want 403)"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" --cert "$IT_WORK/alice.pem" \
    --key "$IT_WORK/alice.key" -H "Authorization: Bearer scepd_nope" "$ADMIN_URL/me")
[ "$code" = 401 ] || fail "a bad token with a good client certificate answered $code (want 401)"
if curl -s -o /dev/null --cacert "$ADMIN_CA" --cert "$IT_WORK/mallory.pem" \
    --key "$IT_WORK/mallory.key" "$ADMIN_URL/me"; then
    fail "a client certificate of another CA got through the handshake"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" "$ADMIN_URL/me")
[ "$code" = 401 ] || fail "no token, no certificate answered $code (want 401)"
say "metrics_listen = public: /metrics public again, not routed nor documented on the admin listener"
code=$(curl -s -o /dev/null -w '%{http_code}' "${SCEPD_URL%/scep}/metrics")
[ "$code" = 200 ] || fail "public /metrics answered $code"
curl -sS --cacert "$ADMIN_CA" -H "Authorization: Bearer $TOK_ADMIN" "$ADMIN_URL/openapi.json" \
    >"$IT_WORK/openapi2.json" || fail "openapi.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "/metrics" not in d["paths"] and "/healthz" in d["paths"]' \
    "$IT_WORK/openapi2.json" || fail "the document lists /metrics that is not served"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ADMIN_CA" \
    -H "Authorization: Bearer $TOK_ADMIN" "${ADMIN_URL%/api/v1}/metrics")
[ "$code" = 404 ] || fail "admin /metrics answered $code with metrics_listen = public"
scepd_stop
rc=0
"$SCEPD" --state-dir "$IT_WORK/bad" --listen 127.0.0.1:0 --challenge x --admin-tls-cert /x \
    >/dev/null 2>"$IT_WORK/bad.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "admin_listen" "$IT_WORK/bad.err" ||
    fail "admin_tls_cert without admin_listen was accepted: $(cat "$IT_WORK/bad.err")"
printf '[admin]\nadmin_listen = 127.0.0.1:0\nadmin_client_ca = %s\nadmin_client_roles = alice:root\n' \
    "$IT_WORK/cca.pem" >"$IT_WORK/bad.conf"
rc=0
"$SCEPD" -t -c "$IT_WORK/bad.conf" --state-dir "$IT_WORK/bad" >/dev/null 2>"$IT_WORK/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q "auditor, operator or admin" "$IT_WORK/bad.err" ||
    fail "admin_client_roles with an unknown role: rc $rc, $(cat "$IT_WORK/bad.err")"
say "ok"
