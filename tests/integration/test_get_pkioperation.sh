#!/usr/bin/env bash
# PKIOperation over GET (RFC 8894 4.1, the legacy form certmonger always
# uses) with two real clients' own encodings:
#  - certmonger's scep-submit sends a PKCSReq as GET with its base64; the
#    request itself was built by micromdm scepclient and captured, never
#    forwarded, by scep_proxy.py --capture (certmonger builds requests
#    only inside its D-Bus daemon);
#  - micromdm scepclient falls back to GET when POSTPKIOperation is not
#    advertised (scep_proxy.py --strip-post), sending base64url with %3D
#    padding (micromdm/scep#249).
# Both certificates must verify and be stored, and scepd's log must show
# the requests as method=GET op=PKIOperation.
. "$(dirname "$0")/lib.sh"
need scepclient openssl sqlite3 curl python3
SCEP_SUBMIT=
for f in /usr/libexec/certmonger/scep-submit /usr/lib/certmonger/scep-submit; do
    [ -x "$f" ] && SCEP_SUBMIT=$f && break
done

# micromdm scepclient 2.1.0 always sends single DES (scep-interop.md 2),
# which scepd accepts only with allow_des.
scepd_start get --allow-des true
fetch_ca_certs "$IT_WORK/ca"

say "micromdm scepclient through a proxy that hides POSTPKIOperation: it uses GET"
proxy_start strip --strip-post
curl -sS "$PROXY_URL?operation=GetCACaps" | grep -q POSTPKIOperation && fail "proxy did not hide POSTPKIOperation"
MM_URL=$PROXY_URL mm_enroll get-mm || fail "scepclient over GET failed: $(tail -n 3 "$IT_WORK/get-mm/log")"
grep -q 'GET /[^ ]*message=' "$IT_WORK/strip.proxy.log" || fail "scepclient did not send PKIOperation by GET"
check_verifies "$IT_WORK/get-mm/cert.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/get-mm/cert.pem" "$IT_WORK/get-mm/key.pem"
check_stored "$IT_WORK/get-mm/cert.pem"
grep 'method=GET' "$SCEPD_LOG" | grep 'op=PKIOperation' | grep -q 'status=200' ||
    fail "scepd logged no successful GET PKIOperation"

if [ -z "$SCEP_SUBMIT" ]; then
    say "certmonger's scep-submit is not installed (scripts/deps.sh installs it): skipping its part"
    scepd_stop
    exit 0
fi

say "capture a fresh PKCSReq from scepclient without forwarding it"
proxy_start cap --capture "$IT_WORK/req.der"
MM_URL=$PROXY_URL mm_enroll get-cm && fail "scepclient succeeded through the capturing proxy"
[ -s "$IT_WORK/req.der" ] || fail "the proxy captured no PKIOperation"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 1 ] || fail "captured request reached scepd ($n certificates stored, want 1)"
{ echo '-----BEGIN PKCS7-----'; openssl base64 -in "$IT_WORK/req.der"; echo '-----END PKCS7-----'; } >"$IT_WORK/req.pem"

say "certmonger scep-submit sends it by GET and verifies the CertRep"
# -r: the certificate that signs CertReps (the RA, or the CA itself);
# -N: the CA.
openssl x509 -inform DER -in "$IT_WORK/ca/sig.der" -out "$IT_WORK/ca/sig.pem"
rc=0
"$SCEP_SUBMIT" -u "$SCEPD_URL" -r "$IT_WORK/ca/sig.pem" -N "$IT_WORK/ca/ca.pem" \
    -p "$IT_WORK/req.pem" >"$IT_WORK/env.pem" 2>"$IT_WORK/submit.log" || rc=$?
[ "$rc" -eq 0 ] || fail "scep-submit exited $rc: $(tail -n 5 "$IT_WORK/submit.log") $(head -c 300 "$IT_WORK/env.pem")"
grep 'method=GET' "$SCEPD_LOG" | grep 'op=PKIOperation' | grep -q 'outcome=success' ||
    fail "scepd logged no successful GET PKIOperation"

say "the pkcsPKIEnvelope decrypts with the client key to the issued certificate"
# scep-submit prints the envelope as PEM; the label varies, so take the
# base64 body.
sed -n '/^-----BEGIN/,/^-----END/p' "$IT_WORK/env.pem" | grep -v '^-----' | openssl base64 -d >"$IT_WORK/env.der"
[ -s "$IT_WORK/env.der" ] || fail "scep-submit printed no envelope: $(head -c 300 "$IT_WORK/env.pem")"
# The envelope mirrors the request's cipher, DES-CBC from micromdm, which
# OpenSSL 3 keeps in its legacy provider.
openssl cms -decrypt -provider legacy -provider default -inform DER -in "$IT_WORK/env.der" -inkey "$IT_WORK/get-cm/key.pem" \
    -binary -out "$IT_WORK/degenerate.der" 2>"$IT_WORK/decrypt.err" ||
    fail "cannot decrypt the envelope: $(cat "$IT_WORK/decrypt.err")"
openssl pkcs7 -inform DER -in "$IT_WORK/degenerate.der" -print_certs -out "$IT_WORK/cm.all.pem" ||
    fail "the envelope does not hold a certs-only PKCS#7"
awk '/BEGIN CERT/{n++} n==1{print}' "$IT_WORK/cm.all.pem" >"$IT_WORK/cm.crt"
check_verifies "$IT_WORK/cm.crt" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/cm.crt" "$IT_WORK/get-cm/key.pem"
check_stored "$IT_WORK/cm.crt"

scepd_stop
