#!/usr/bin/env bash
# strongSwan pki --scep (5.9.8) against scepd: enrollment with AES-128 and
# SHA-256 (its default; it needs SHA-384 in GetCACaps to get past its caps
# bug, strongswan#1607), with DES3 and SHA-1, and a renewal signed by the
# first certificate for a new key.  Each certificate is checked with
# openssl and must be in the store.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl

scepd_start sw
fetch_ca_certs "$IT_WORK/ca"

say "GetCACaps advertises SHA-384 (strongSwan needs it for AES/SHA-256)"
curl -sS "$SCEPD_URL?operation=GetCACaps" | tr -d '\r' | grep -qx 'SHA-384' ||
    fail "GetCACaps lacks SHA-384"

pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k1.pem" 2>/dev/null
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k2.pem" 2>/dev/null
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k3.pem" 2>/dev/null

say "enroll with --cipher aes --digest sha256"
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca" aes sha256 "CN=sw-aes, O=scepd test" \
    --password "$IT_CHALLENGE" || fail "pki --scep (aes/sha256) failed: $(tail -n 5 "$IT_WORK/c1.pem.log")"
check_verifies "$IT_WORK/c1.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/c1.pem" "$IT_WORK/k1.pem"
check_stored "$IT_WORK/c1.pem"
openssl x509 -in "$IT_WORK/c1.pem" -noout -subject -nameopt RFC2253 | grep -q 'CN=sw-aes' ||
    fail "AES certificate's subject lacks CN=sw-aes"

say "enroll with --cipher des3 --digest sha1"
sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/c2.pem" "$IT_WORK/ca" des3 sha1 "CN=sw-des3" \
    --password "$IT_CHALLENGE" || fail "pki --scep (des3/sha1) failed: $(tail -n 5 "$IT_WORK/c2.pem.log")"
check_verifies "$IT_WORK/c2.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/c2.pem" "$IT_WORK/k2.pem"
check_stored "$IT_WORK/c2.pem"

say "renew the AES certificate for a new key, signed with the old certificate (no challenge)"
sw_enroll "$IT_WORK/k3.pem" "$IT_WORK/c3.pem" "$IT_WORK/ca" aes sha256 "CN=sw-aes, O=scepd test" \
    --cert "$IT_WORK/c1.pem" --key "$IT_WORK/k1.pem" ||
    fail "pki --scep renewal failed: $(tail -n 5 "$IT_WORK/c3.pem.log")"
check_verifies "$IT_WORK/c3.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/c3.pem" "$IT_WORK/k3.pem"
check_stored "$IT_WORK/c3.pem"
[ "$(cert_serial "$IT_WORK/c3.pem")" != "$(cert_serial "$IT_WORK/c1.pem")" ] ||
    fail "renewal returned the old certificate"

say "the store records the renewal as a RenewalReq of the old serial"
hex=$(cert_der_hex "$IT_WORK/c3.pem")
row=$(store_sql "SELECT msg_type FROM certificates WHERE hex(der) = '$hex';")
[ "$row" = RenewalReq ] || fail "renewed certificate stored with msg_type '$row' (want RenewalReq)"

say "SIGTERM stops scepd with status 0"
scepd_stop
