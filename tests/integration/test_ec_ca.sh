#!/usr/bin/env bash
# An EC P-256 CA cannot decrypt or sign for RSA-only SCEP clients, so
# scepd gives it an RSA RA automatically: GetCACert then answers a
# certs-only PKCS#7 (RA + CA).  Both micromdm scepclient and strongSwan
# must enroll through the RA, and their certificates must verify against
# the EC CA.
. "$(dirname "$0")/lib.sh"
need pki scepclient openssl sqlite3 curl

# micromdm scepclient 2.1.0 always sends single DES (scep-interop.md 2),
# which scepd accepts only with allow_des.
scepd_start ec --ca-key-type ec-p256 --ca-ra-rsa-bits 2048 --allow-des true

say "the CA key is EC P-256 and an RSA-2048 RA (--ca-ra-rsa-bits) exists"
openssl x509 -in "$SCEPD_STATE/ca.crt" -noout -text | grep -q 'prime256v1\|P-256' ||
    fail "ca.crt is not an EC P-256 certificate"
[ -s "$SCEPD_STATE/ra.crt" ] || fail "no ra.crt in the state dir"
openssl x509 -in "$SCEPD_STATE/ra.crt" -noout -text | grep -q 'rsaEncryption' ||
    fail "ra.crt does not hold an RSA key"
openssl x509 -in "$SCEPD_STATE/ra.crt" -noout -text | grep -q 'Public-Key: (2048 bit)' ||
    fail "ra.crt is not the 2048 bits --ca-ra-rsa-bits asked for"
check_verifies "$SCEPD_STATE/ra.crt" "$SCEPD_STATE/ca.crt"

say "GetCACert answers application/x-x509-ca-ra-cert with the RA and the CA"
fetch_ca_certs "$IT_WORK/ca"
grep -q 'BEGIN' "$IT_WORK/ca/all.pem" 2>/dev/null || fail "GetCACert did not answer a PKCS#7 (RA + CA)"
cmp -s "$IT_WORK/ca/enc.der" <(openssl x509 -in "$SCEPD_STATE/ra.crt" -outform DER) ||
    fail "the non-CA certificate in GetCACert is not ra.crt"

say "strongSwan enrolls through the RA (AES/SHA-256)"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/sw.key" 2>/dev/null
sw_enroll "$IT_WORK/sw.key" "$IT_WORK/sw.crt" "$IT_WORK/ca" aes sha256 "CN=ec-sw" \
    --password "$IT_CHALLENGE" || fail "pki --scep failed: $(tail -n 5 "$IT_WORK/sw.crt.log")"
check_verifies "$IT_WORK/sw.crt" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/sw.crt" "$IT_WORK/sw.key"
check_stored "$IT_WORK/sw.crt"

say "micromdm scepclient enrolls through the RA (pinned by -ca-fingerprint)"
# scepclient 2.1.0 encrypts to every certificate GetCACert returns and
# panics on the EC CA's key (go.mozilla.org/pkcs7 is RSA-only); its
# -ca-fingerprint option selects the recipient, as an NDES setup does.
ra_fp=$(openssl x509 -in "$SCEPD_STATE/ra.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
MM_ARGS="-ca-fingerprint $ra_fp" mm_enroll ec-mm || fail "scepclient failed: $(tail -n 5 "$IT_WORK/ec-mm/log")"
check_verifies "$IT_WORK/ec-mm/cert.pem" "$SCEPD_STATE/ca.crt"
# The CertRep carries the leaf and the CA; scepclient keeps the first
# certificate of the degenerate SignedData, so the leaf must come first.
check_same_key "$IT_WORK/ec-mm/cert.pem" "$IT_WORK/ec-mm/key.pem"
check_stored "$IT_WORK/ec-mm/cert.pem"

say "the issued certificate is signed by the EC CA (ecdsa-with-SHA*)"
openssl x509 -in "$IT_WORK/ec-mm/cert.pem" -noout -text | grep -q 'Signature Algorithm: ecdsa-with-SHA' ||
    fail "client certificate is not signed with ECDSA"

scepd_stop
