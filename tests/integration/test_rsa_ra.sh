#!/usr/bin/env bash
# An RSA CA with a separate RA (--ca-with-ra true): GetCACert answers a
# certs-only PKCS#7, clients encrypt to the RA and verify CertReps signed
# by it.  strongSwan gets its CA and RA files from its own `pki --scepca`
# (which checks that the RA chains to the CA); micromdm scepclient
# encrypts to every certificate it was given (two recipients).
. "$(dirname "$0")/lib.sh"
need pki scepclient openssl sqlite3 curl

# micromdm scepclient 2.1.0 always sends single DES (scep-interop.md 2),
# which scepd accepts only with allow_des.
scepd_start rra --ca-with-ra true --allow-des true

say "ra.crt exists and chains to the CA"
[ -s "$SCEPD_STATE/ra.crt" ] || fail "no ra.crt in the state dir"
check_verifies "$SCEPD_STATE/ra.crt" "$SCEPD_STATE/ca.crt"

say "pki --scepca fetches and classifies the CA and the RA"
mkdir -p "$IT_WORK/ca"
pki --scepca --url "$SCEPD_URL" --caout "$IT_WORK/ca/ca.der" --raout "$IT_WORK/ca/ra.der" \
    >"$IT_WORK/scepca.log" 2>&1 || fail "pki --scepca failed: $(grep -Ev "$IT_PKI_NOISE" "$IT_WORK/scepca.log" | tail -n 3)"
grep -q 'RA cert is trusted' "$IT_WORK/scepca.log" || fail "pki --scepca did not find a trusted RA certificate"
cmp -s "$IT_WORK/ca/ra.der" <(openssl x509 -in "$SCEPD_STATE/ra.crt" -outform DER) || fail "RA from pki --scepca is not ra.crt"
cmp -s "$IT_WORK/ca/ca.der" <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) || fail "CA from pki --scepca is not ca.crt"
cp "$IT_WORK/ca/ra.der" "$IT_WORK/ca/enc.der"
cp "$IT_WORK/ca/ra.der" "$IT_WORK/ca/sig.der"
openssl x509 -inform DER -in "$IT_WORK/ca/ca.der" -out "$IT_WORK/ca/ca.pem"

say "strongSwan enrolls through the RA (AES/SHA-256)"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/sw.key" 2>/dev/null
sw_enroll "$IT_WORK/sw.key" "$IT_WORK/sw.crt" "$IT_WORK/ca" aes sha256 "CN=ra-sw" \
    --password "$IT_CHALLENGE" || fail "pki --scep failed: $(tail -n 5 "$IT_WORK/sw.crt.log")"
check_verifies "$IT_WORK/sw.crt" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/sw.crt" "$IT_WORK/sw.key"
check_stored "$IT_WORK/sw.crt"

say "micromdm scepclient enrolls, encrypting to both certificates"
mm_enroll ra-mm || fail "scepclient failed: $(tail -n 5 "$IT_WORK/ra-mm/log")"
check_verifies "$IT_WORK/ra-mm/cert.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/ra-mm/cert.pem" "$IT_WORK/ra-mm/key.pem"
check_stored "$IT_WORK/ra-mm/cert.pem"

scepd_stop
