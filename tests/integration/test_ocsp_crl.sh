#!/usr/bin/env bash
# Certificate status served by scepd itself: with public_url set, issued
# certificates carry a CRL distribution point (/crl/<CA key id>.crl) and
# an AIA OCSP URL (/ocsp) on scepd.  After "scepctl revoke --reason
# keyCompromise" (another process) the CRL fetched from the certificate's
# own CDP lists it within seconds, verifies with "openssl crl -CAfile",
# and "openssl verify -crl_check" says revoked; /crl is the same CRL.
# "openssl ocsp" (a real OCSP client) gets revoked with the reason for
# the revoked certificate, good for a valid one, unknown for a serial
# never issued, with and without a nonce, over POST and over GET (RFC
# 6960 A.1); garbage gets malformedRequest and another issuer
# unauthorized.  Answers are signed by the CA's delegated responder
# (ocsp_signer = delegated, the default): STATE_DIR/ocsp/<CA serial>.crt,
# issued by the CA with the OCSPSigning purpose and ocsp-nocheck, its key
# 0600, sent in the response; one forged to expire within the hour is
# renewed by the running scepd at SIGHUP (the CA poll); ocsp_signer = ca
# signs with the CA key.  After "scepctl ca rollover --in 0" and a
# restart, the archived CA's certificates are still answered, signed by
# that CA's own responder, and the new CA has one too.
# The background publisher keeps STATE_DIR/crl/<CA key id>.crl and
# current.crl up to date: the revocation appears there within seconds
# too, each file replaced atomically.
. "$(dirname "$0")/lib.sh"

need curl openssl pki

# crl_signed_by FORM CRL CAFILE: "openssl crl -verify" reports a failure
# only in its output, so its words are checked (read whole first: grep -q
# closing a pipe early would kill openssl with SIGPIPE under pipefail).
crl_signed_by() {
    local out
    out=$(openssl crl -inform "$1" -in "$2" -CAfile "$3" -verify -noout 2>&1 || true)
    case $out in *'verify OK'*) return 0 ;; *) return 1 ;; esac
}

# ocsp_ask OUT CAFILE ARGS...: runs openssl ocsp against scepd, output in OUT.
ocsp_ask() {
    local out=$1 ca=$2
    shift 2
    openssl ocsp -issuer "$ca" -CAfile "$ca" -url "$BASE/ocsp" "$@" >"$out" 2>&1 ||
        fail "openssl ocsp $*: $(cat "$out")"
}

# expect FILE PATTERN WHAT: FILE holds PATTERN (extended regex).
expect() {
    grep -Eq -- "$2" "$1" || fail "$3: $(cat "$1")"
}

say "learn a free port, then serve with public_url on it"
scepd_start ocsp --ca-rsa-bits 2048
port=${SCEPD_URL#http://127.0.0.1:}
port=${port%%/*}
scepd_stop
BASE=http://127.0.0.1:$port
scepd_start ocsp --ca-rsa-bits 2048 --listen "127.0.0.1:$port" --public-url "$BASE/scep"
fetch_ca_certs "$IT_WORK/ca1"
CA1=$IT_WORK/ca1/ca.pem

say "enroll two certificates with strongSwan"
for n in 1 2; do
    rsa_key "$IT_WORK/k$n.pem"
    sw_enroll "$IT_WORK/k$n.pem" "$IT_WORK/c$n.raw" "$IT_WORK/ca1" aes sha256 "CN=ocsp-$n" \
        --password "$IT_CHALLENGE" || fail "enrollment $n: $(cat "$IT_WORK/c$n.raw.log")"
    openssl x509 -in "$IT_WORK/c$n.raw" -out "$IT_WORK/c$n.pem" 2>/dev/null ||
        openssl x509 -inform DER -in "$IT_WORK/c$n.raw" -out "$IT_WORK/c$n.pem"
done
serial1=$(cert_serial "$IT_WORK/c1.pem")

say "the certificate names scepd's CRL and OCSP URLs"
openssl x509 -in "$IT_WORK/c1.pem" -noout -ext crlDistributionPoints,authorityInfoAccess \
    >"$IT_WORK/ext.txt" 2>&1 || fail "openssl x509 -ext: $(cat "$IT_WORK/ext.txt")"
cdp=$(sed -n 's/^ *URI:\(http.*\.crl\)$/\1/p' "$IT_WORK/ext.txt" | head -n1)
case $cdp in
    "$BASE"/crl/*.crl) ;;
    *) fail "no CDP on scepd in the certificate: $(cat "$IT_WORK/ext.txt")" ;;
esac
expect "$IT_WORK/ext.txt" "OCSP - URI:$BASE/ocsp\$" "no AIA OCSP URL on scepd"

say "before revocation: OCSP good, CRL empty"
ocsp_ask "$IT_WORK/o.txt" "$CA1" -cert "$IT_WORK/c1.pem"
expect "$IT_WORK/o.txt" "c1.pem: good" "OCSP did not say good"
expect "$IT_WORK/o.txt" "Response verify OK" "OCSP response did not verify"

say "the delegated responder: made at start, OCSPSigning + nocheck, in the response"
ca1_serial=$(cert_serial "$CA1")
RESP1=$SCEPD_STATE/ocsp/$ca1_serial.crt
[ -s "$RESP1" ] || fail "no responder certificate $RESP1: $(ls -l "$SCEPD_STATE/ocsp" 2>&1)"
[ "$(stat -c %a "$SCEPD_STATE/ocsp/$ca1_serial.key")" = 600 ] || fail "the responder key is not 0600"
openssl x509 -in "$RESP1" -noout -text >"$IT_WORK/resp1.txt" 2>&1 || fail "the responder is no PEM"
expect "$IT_WORK/resp1.txt" "OCSP Signing" "the responder has no OCSPSigning EKU"
expect "$IT_WORK/resp1.txt" "OCSP No Check" "the responder has no ocsp-nocheck extension"
expect "$IT_WORK/resp1.txt" "Subject: CN ?= ?scepd CA OCSP responder" "unexpected responder subject"
expect "$IT_WORK/resp1.txt" "ASN1 OID: prime256v1" "the responder key is not P-256"
openssl verify -CAfile "$CA1" -purpose ocsphelper "$RESP1" >"$IT_WORK/rv.txt" 2>&1 ||
    fail "the responder is not the CA's: $(cat "$IT_WORK/rv.txt")"
na=$(openssl x509 -in "$RESP1" -noout -enddate | sed 's/^notAfter=//')
days_left=$((($(date -u -d "$na" +%s) - $(date -u +%s)) / 86400))
[ "$days_left" -ge 6 ] && [ "$days_left" -le 7 ] ||
    fail "the responder lives $days_left days (want ocsp_responder_days = 7)"
for nonce in "" -no_nonce; do
    # shellcheck disable=SC2086  # an empty $nonce is no argument
    ocsp_ask "$IT_WORK/od.txt" "$CA1" -cert "$IT_WORK/c2.pem" $nonce -resp_text
    expect "$IT_WORK/od.txt" "c2.pem: good" "delegated ($nonce): OCSP did not say good"
    expect "$IT_WORK/od.txt" "Response verify OK" "delegated ($nonce): response did not verify"
    expect "$IT_WORK/od.txt" "Subject: CN ?= ?scepd CA OCSP responder" \
        "delegated ($nonce): the responder certificate is not in the response"
done

say "revoke $serial1 with keyCompromise"
"$SCEPCTL" --state-dir "$SCEPD_STATE" revoke "$serial1" --reason keyCompromise \
    >"$IT_WORK/revoke.out" 2>&1 || fail "scepctl revoke: $(cat "$IT_WORK/revoke.out")"

say "within seconds the CDP's CRL lists it with its reason"
listed=0
for i in $(seq 1 40); do
    ct=$(curl -sS -o "$IT_WORK/cdp.crl" -w '%{content_type}' "$cdp") || fail "curl $cdp failed"
    openssl crl -inform DER -in "$IT_WORK/cdp.crl" -noout -text >"$IT_WORK/cdp.txt" 2>&1 ||
        fail "the CDP answer is not a DER CRL: $(cat "$IT_WORK/cdp.txt")"
    if grep -Eiq "Serial Number: *0*$serial1\$" "$IT_WORK/cdp.txt"; then
        listed=1
        break
    fi
    sleep 0.25
done
[ "$listed" = 1 ] || fail "the CRL at $cdp does not list $serial1 after 10 s"
[ "$ct" = application/pkix-crl ] || fail "CRL Content-Type is '$ct'"
expect "$IT_WORK/cdp.txt" "Key Compromise" "the CRL does not give the reason"
crl_signed_by DER "$IT_WORK/cdp.crl" "$CA1" || fail "the CRL does not verify with openssl crl -CAfile"
openssl crl -inform DER -in "$IT_WORK/cdp.crl" -out "$IT_WORK/cdp.pem"
rc=0
openssl verify -crl_check -CAfile "$CA1" -CRLfile "$IT_WORK/cdp.pem" "$IT_WORK/c1.pem" \
    >"$IT_WORK/verify.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "openssl verify -crl_check accepted the revoked certificate"
expect "$IT_WORK/verify.out" "certificate revoked" "openssl verify did not say revoked"
openssl verify -crl_check -CAfile "$CA1" -CRLfile "$IT_WORK/cdp.pem" "$IT_WORK/c2.pem" \
    >"$IT_WORK/verify2.out" 2>&1 || fail "the valid certificate fails -crl_check: $(cat "$IT_WORK/verify2.out")"
curl -sS -D "$IT_WORK/crl.hdr" -o "$IT_WORK/top.crl" "$BASE/crl" || fail "curl /crl failed"
openssl crl -inform DER -in "$IT_WORK/top.crl" -noout -text >"$IT_WORK/top.txt" 2>&1 ||
    fail "/crl is not a DER CRL"
expect "$IT_WORK/top.txt" "Serial Number: *0*$serial1\$" "/crl does not list $serial1"
expect "$IT_WORK/crl.hdr" "^Cache-Control: max-age=" "/crl has no Cache-Control max-age"
kid=${cdp##*/}
kid=${kid%.crl}
say "the publisher wrote crl/$kid.crl and crl/current.crl listing it"
listed=0
for i in $(seq 1 60); do
    if [ -s "$SCEPD_STATE/crl/$kid.crl" ]; then
        openssl crl -inform DER -in "$SCEPD_STATE/crl/$kid.crl" -noout -text \
            >"$IT_WORK/pub.txt" 2>&1 || fail "crl/$kid.crl is not a DER CRL"
        if grep -Eiq "Serial Number: *0*$serial1\$" "$IT_WORK/pub.txt"; then
            listed=1
            break
        fi
    fi
    sleep 0.25
done
[ "$listed" = 1 ] || fail "the published crl/$kid.crl does not list $serial1 after 15 s"
crl_signed_by DER "$SCEPD_STATE/crl/$kid.crl" "$CA1" || fail "the published CRL does not verify"
cmp -s "$SCEPD_STATE/crl/$kid.crl" "$SCEPD_STATE/crl/current.crl" ||
    fail "crl/current.crl is not the current CA's CRL"
expect "$SCEPD_LOG" "msg=crl-published .*ca_key_id=$kid" "no crl-published log line"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/crl/0123456789abcdef.crl")
[ "$code" = 404 ] || fail "a CRL of an unknown CA answered $code (want 404)"

say "OCSP: revoked with reason, good, unknown; with and without nonce"
ocsp_ask "$IT_WORK/o1.txt" "$CA1" -cert "$IT_WORK/c1.pem"
expect "$IT_WORK/o1.txt" "c1.pem: revoked" "OCSP did not say revoked"
expect "$IT_WORK/o1.txt" "Reason: keyCompromise" "OCSP gave no reason"
expect "$IT_WORK/o1.txt" "Response verify OK" "OCSP response did not verify"
ocsp_ask "$IT_WORK/o1n.txt" "$CA1" -cert "$IT_WORK/c1.pem" -no_nonce
expect "$IT_WORK/o1n.txt" "c1.pem: revoked" "OCSP without nonce did not say revoked"
grep -q "WARNING: no nonce" "$IT_WORK/o1.txt" && fail "the nonce was not echoed: $(cat "$IT_WORK/o1.txt")"
ocsp_ask "$IT_WORK/o2.txt" "$CA1" -cert "$IT_WORK/c2.pem" -no_nonce
expect "$IT_WORK/o2.txt" "c2.pem: good" "OCSP did not say good without nonce"
ocsp_ask "$IT_WORK/o3.txt" "$CA1" -serial 0x7E57000000000000000000000000000A
expect "$IT_WORK/o3.txt" "0x7E57000000000000000000000000000A: unknown" \
    "OCSP did not say unknown for a serial never issued"
ocsp_ask "$IT_WORK/o4.txt" "$CA1" -cert "$IT_WORK/c1.pem" -cert "$IT_WORK/c2.pem"
expect "$IT_WORK/o4.txt" "c1.pem: revoked" "two CertIDs: first not revoked"
expect "$IT_WORK/o4.txt" "c2.pem: good" "two CertIDs: second not good"

say "OCSP over GET (RFC 6960 A.1) with caching headers"
openssl ocsp -issuer "$CA1" -cert "$IT_WORK/c1.pem" -no_nonce -reqout "$IT_WORK/req.der" \
    >/dev/null 2>&1 || fail "openssl ocsp -reqout"
b64=$(openssl base64 -A -in "$IT_WORK/req.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
ct=$(curl -sS -D "$IT_WORK/get.hdr" -o "$IT_WORK/get.der" -w '%{content_type}' "$BASE/ocsp/$b64") ||
    fail "curl GET /ocsp failed"
[ "$ct" = application/ocsp-response ] || fail "OCSP GET Content-Type is '$ct'"
expect "$IT_WORK/get.hdr" "^Cache-Control: max-age=[0-9]+" "OCSP GET has no Cache-Control max-age"
expect "$IT_WORK/get.hdr" "^Expires: " "OCSP GET has no Expires"
openssl ocsp -respin "$IT_WORK/get.der" -issuer "$CA1" -CAfile "$CA1" -cert "$IT_WORK/c1.pem" \
    >"$IT_WORK/get.txt" 2>&1 || fail "openssl ocsp -respin: $(cat "$IT_WORK/get.txt")"
expect "$IT_WORK/get.txt" "c1.pem: revoked" "OCSP GET did not say revoked"
# Clients that leave base64's '/' and '+' unescaped are understood too.
raw=$(openssl base64 -A -in "$IT_WORK/req.der")
curl -sS -o "$IT_WORK/raw.der" "$BASE/ocsp/$raw" || fail "curl GET /ocsp with raw base64 failed"
openssl ocsp -respin "$IT_WORK/raw.der" -issuer "$CA1" -CAfile "$CA1" -cert "$IT_WORK/c1.pem" \
    >"$IT_WORK/raw.txt" 2>&1 || fail "openssl ocsp -respin (raw GET): $(cat "$IT_WORK/raw.txt")"
expect "$IT_WORK/raw.txt" "c1.pem: revoked" "OCSP GET with raw base64 did not say revoked"
curl -sS -I -o "$IT_WORK/head.hdr" "$BASE/crl" || fail "HEAD /crl failed"
expect "$IT_WORK/head.hdr" "^Content-Type: application/pkix-crl" "HEAD /crl: wrong Content-Type"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$BASE/ocsp")
[ "$code" = 405 ] || fail "PUT /ocsp answered $code (want 405)"

say "malformed and foreign requests"
printf 'not an OCSP request' >"$IT_WORK/junk"
curl -sS -o "$IT_WORK/junk.der" -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$IT_WORK/junk" "$BASE/ocsp" || fail "curl POST junk"
openssl ocsp -respin "$IT_WORK/junk.der" -resp_text -noverify >"$IT_WORK/junk.txt" 2>&1 || true
expect "$IT_WORK/junk.txt" "malformedrequest" "garbage did not get malformedRequest"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$IT_WORK/other.key" -subj "/CN=Other CA" \
    -days 2 -out "$IT_WORK/other.pem" >/dev/null 2>&1 || fail "cannot make another CA"
openssl ocsp -issuer "$IT_WORK/other.pem" -serial 0x01 -url "$BASE/ocsp" -noverify \
    >"$IT_WORK/other.txt" 2>&1 || true
expect "$IT_WORK/other.txt" "unauthorized" "another issuer did not get unauthorized"

say "a responder forged to expire within the hour is renewed by the running scepd"
mkdir -p "$IT_WORK/fca/new"
: >"$IT_WORK/fca/index.txt"
echo 1000 >"$IT_WORK/fca/serial"
cat >"$IT_WORK/fca/ca.cnf" <<EOF
[ca]
default_ca = fca
[fca]
dir = $IT_WORK/fca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
openssl req -new -key "$SCEPD_STATE/ocsp/$ca1_serial.key" -subj "/CN=scepd CA OCSP responder" \
    -out "$IT_WORK/fca/r.csr" >"$IT_WORK/fca/req.log" 2>&1 || fail "req: $(cat "$IT_WORK/fca/req.log")"
openssl ca -batch -config "$IT_WORK/fca/ca.cnf" -cert "$CA1" -keyfile "$SCEPD_STATE/ca.key" \
    -in "$IT_WORK/fca/r.csr" -out "$IT_WORK/fca/forged.pem" -extensions ext -notext \
    -startdate "$(date -u -d '-6 days' +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d '+1 hour' +%Y%m%d%H%M%SZ)" >"$IT_WORK/fca/ca.log" 2>&1 ||
    fail "openssl ca: $(cat "$IT_WORK/fca/ca.log")"
cp "$IT_WORK/fca/forged.pem" "$RESP1.tmp" && mv "$RESP1.tmp" "$RESP1"
forged=$(cert_serial "$RESP1")
kill -HUP "$SCEPD_PID"
renewed=0
for i in $(seq 1 50); do
    now_serial=$(cert_serial "$RESP1" 2>/dev/null || true)
    if [ -n "$now_serial" ] && [ "$now_serial" != "$forged" ]; then
        renewed=1
        break
    fi
    sleep 0.2
done
[ "$renewed" = 1 ] || fail "the forged responder (serial $forged) was not renewed after SIGHUP"
na=$(openssl x509 -in "$RESP1" -noout -enddate | sed 's/^notAfter=//')
[ $(($(date -u -d "$na" +%s) - $(date -u +%s))) -gt $((6 * 86400)) ] ||
    fail "the renewed responder ends $na"
openssl x509 -in "$RESP1" -noout -text >"$IT_WORK/resp1b.txt"
expect "$IT_WORK/resp1b.txt" "OCSP Signing" "the renewed responder has no OCSPSigning EKU"
cmp -s <(openssl x509 -in "$RESP1" -noout -pubkey) \
    <(openssl x509 -in "$IT_WORK/fca/forged.pem" -noout -pubkey) &&
    fail "the renewed responder kept the old key"
expect "$SCEPD_LOG" "msg=ocsp-responder-made .*count=1" "no ocsp-responder-made log line"
# The workers swap the new responder in right after the file is written.
signed_by=
for i in $(seq 1 25); do
    ocsp_ask "$IT_WORK/or.txt" "$CA1" -cert "$IT_WORK/c1.pem" -no_nonce -resp_text
    signed_by=$(sed -n '/BEGIN CERT/,/END CERT/p' "$IT_WORK/or.txt" | openssl x509 -noout -serial)
    [ "$signed_by" = "$(openssl x509 -in "$RESP1" -noout -serial)" ] && break
    sleep 0.2
done
[ "$signed_by" = "$(openssl x509 -in "$RESP1" -noout -serial)" ] ||
    fail "answers are not signed by the renewed responder: $(cat "$IT_WORK/or.txt")"
expect "$IT_WORK/or.txt" "Response verify OK" "renewed responder: response did not verify"
expect "$IT_WORK/or.txt" "c1.pem: revoked" "renewed responder: not revoked"

say "ocsp_signer = ca: the CA key signs, no responder certificate in the answer"
scepd_stop
scepd_start ocsp --listen "127.0.0.1:$port" --public-url "$BASE/scep" --ocsp-signer ca
for nonce in "" -no_nonce; do
    # shellcheck disable=SC2086  # an empty $nonce is no argument
    ocsp_ask "$IT_WORK/oc.txt" "$CA1" -cert "$IT_WORK/c1.pem" $nonce -resp_text
    expect "$IT_WORK/oc.txt" "c1.pem: revoked" "ocsp_signer = ca ($nonce): not revoked"
    expect "$IT_WORK/oc.txt" "Response verify OK" "ocsp_signer = ca ($nonce): did not verify"
    grep -q "OCSP responder" "$IT_WORK/oc.txt" &&
        fail "ocsp_signer = ca ($nonce) sent the responder certificate: $(cat "$IT_WORK/oc.txt")"
done

say "roll over, restart: the archived CA's certificates are still answered"
scepd_stop
"$SCEPCTL" --state-dir "$SCEPD_STATE" ca rollover --in 0 >"$IT_WORK/roll.out" 2>&1 ||
    fail "scepctl ca rollover --in 0: $(cat "$IT_WORK/roll.out")"
scepd_start ocsp --listen "127.0.0.1:$port" --public-url "$BASE/scep"
cmp -s <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) \
    <(openssl x509 -in "$CA1" -outform DER) && fail "the CA did not change"
ocsp_ask "$IT_WORK/a1.txt" "$CA1" -cert "$IT_WORK/c1.pem"
expect "$IT_WORK/a1.txt" "c1.pem: revoked" "archived CA: OCSP did not say revoked"
expect "$IT_WORK/a1.txt" "Reason: keyCompromise" "archived CA: OCSP gave no reason"
expect "$IT_WORK/a1.txt" "Response verify OK" "archived CA: response not signed by the old CA"
ocsp_ask "$IT_WORK/a1r.txt" "$CA1" -cert "$IT_WORK/c1.pem" -resp_text
[ "$(sed -n '/BEGIN CERT/,/END CERT/p' "$IT_WORK/a1r.txt" | openssl x509 -noout -serial)" = \
    "$(openssl x509 -in "$RESP1" -noout -serial)" ] ||
    fail "archived CA: not signed by its own responder: $(cat "$IT_WORK/a1r.txt")"
[ -s "$SCEPD_STATE/ocsp/$(cert_serial "$SCEPD_STATE/ca.crt").crt" ] ||
    fail "the new CA has no responder: $(ls "$SCEPD_STATE/ocsp")"
ocsp_ask "$IT_WORK/a2.txt" "$CA1" -cert "$IT_WORK/c2.pem" -no_nonce
expect "$IT_WORK/a2.txt" "c2.pem: good" "archived CA: OCSP did not say good"
ocsp_ask "$IT_WORK/a3.txt" "$SCEPD_STATE/ca.crt" -serial "0x$serial1"
expect "$IT_WORK/a3.txt" ": unknown" "the new CA answered for the old CA's serial"
curl -sS -o "$IT_WORK/old.crl" "$cdp" || fail "curl $cdp after rollover"
crl_signed_by DER "$IT_WORK/old.crl" "$CA1" || fail "the old CDP's CRL is not the archived CA's"
openssl crl -inform DER -in "$IT_WORK/old.crl" -noout -text >"$IT_WORK/old.txt"
expect "$IT_WORK/old.txt" "Serial Number: *0*$serial1\$" "the archived CA's CRL lost $serial1"
curl -sS -o "$IT_WORK/new.crl" "$BASE/crl" || fail "curl /crl after rollover"
crl_signed_by DER "$IT_WORK/new.crl" "$SCEPD_STATE/ca.crt" || fail "/crl is not the new CA's CRL"
crl_signed_by DER "$SCEPD_STATE/crl/current.crl" "$SCEPD_STATE/ca.crt" ||
    fail "crl/current.crl is not the new CA's CRL after the rollover"
crl_signed_by DER "$SCEPD_STATE/crl/$kid.crl" "$CA1" ||
    fail "crl/$kid.crl is no longer the archived CA's CRL"
scepd_stop
