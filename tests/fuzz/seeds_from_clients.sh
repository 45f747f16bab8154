#!/usr/bin/env bash
# Makes seeds for corpus/service and corpus/pkimsg from real clients:
# their own requests, encrypted to the fixed fuzz CA, so that the
# harnesses start from the bytes those clients send (their attribute
# order, their BER, their cipher and digest choices) and not only from
# what libscep builds.
#
# It runs scepd on a state directory holding the fuzz CA
# (fuzz_service_ca.h with the key of fuzz_identity.h) and the harness's
# challenge, puts tests/integration/scep_proxy.py --capture in front of
# it (each POSTed PKIOperation is saved, answered 503 and never
# forwarded, so it stays a fresh request), and points each client at
# the proxy: strongSwan pki --scep with both of its ciphers, four
# digests and PSS, a strongSwan renewal signed by a certificate scepd
# issued, and micromdm scepclient (single DES, SHA-1).  Then each
# captured request is sent to scepd itself, which must answer it with a
# CertRep and issue for every PKCSReq and RenewalReq: a seed that scepd
# would refuse would not reach the code behind the checks.
#
# Usage: SCEPD=build/src/scepd/scepd SCEPCTL=build/src/scepctl/scepctl \
#            bash tests/fuzz/seeds_from_clients.sh OUTDIR
# writes OUTDIR/client_*.der; copy them into corpus/service and
# corpus/pkimsg.  Needs pki, scepclient, openssl, curl, python3.
. "$(dirname "$0")/../integration/lib.sh"
need pki scepclient openssl curl python3 sqlite3
out=${1:?usage: seeds_from_clients.sh OUTDIR}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)

# pem_of HEADER NAME: the PEM text of the C string NAME in HEADER.
pem_of() {
    awk -v n="$2" '$0 ~ "static const char " n "\\[\\]" { on = 1; next }
                   on { if ($0 ~ /;$/) on = 0; sub(/^ *"/, ""); sub(/\\n";?$/, ""); print }' "$1"
}

st=$IT_WORK/fuzzca
mkdir -p "$st"
chmod 700 "$st"
pem_of "$here/fuzz_service_ca.h" fuzz_service_ca_pem >"$st/ca.crt"
(umask 077 && pem_of "$here/fuzz_identity.h" fuzz_key_pem >"$st/ca.key")
openssl x509 -in "$st/ca.crt" -noout 2>/dev/null || fail "cannot read the fuzz CA from fuzz_service_ca.h"
[ "$(openssl x509 -in "$st/ca.crt" -noout -pubkey | openssl sha256)" = \
  "$(openssl pkey -in "$st/ca.key" -pubout | openssl sha256)" ] || fail "the fuzz key is not the fuzz CA's"

# The harness's challenge (fuzz_service.c FUZZ_CHALLENGE).
IT_CHALLENGE=fuzz-challenge
# scepd_start names the state directory after its first argument.
scepd_start fuzzca --allow-des true
fetch_ca_certs "$IT_WORK/ca"

n_captured=0
# capture NAME CMD...: runs a client through a capturing proxy and keeps
# what it sent as $out/client_NAME.der.
capture() {
    local name=$1
    shift
    rm -f "$IT_WORK/cap.der"
    proxy_start "cap-$name" --capture "$IT_WORK/cap.der"
    SCEPD_URL_SAVED=$SCEPD_URL
    SCEPD_URL=$PROXY_URL MM_URL=$PROXY_URL "$@" >/dev/null 2>&1 || true
    SCEPD_URL=$SCEPD_URL_SAVED
    [ -s "$IT_WORK/cap.der" ] || fail "$name: the proxy captured nothing"
    cp "$IT_WORK/cap.der" "$out/client_$name.der"
    n_captured=$((n_captured + 1))
    say "captured client_$name.der ($(wc -c <"$out/client_$name.der") bytes)"
}

# A key per request: strongSwan derives the transactionID from the key,
# and scepd gives one transactionID one certificate.
new_key() { pki --gen --type rsa --size 2048 --outform pem >"$1" 2>/dev/null; }
for combo in aes:sha256 aes:sha512 aes:sha384 des3:sha1 des3:sha256 aes:sha256:pss; do
    IFS=: read -r c d pad <<<"$combo"
    new_key "$IT_WORK/$c-$d-$pad.key"
    capture "strongswan_${c}_${d}${pad:+_$pad}" sw_enroll "$IT_WORK/$c-$d-$pad.key" "$IT_WORK/sw.crt" \
        "$IT_WORK/ca" "$c" "$d" "CN=seed-sw-$c-$d$pad,O=scepd fuzz" --password "$IT_CHALLENGE" \
        ${pad:+--rsa-padding $pad}
done
key=$IT_WORK/old.key
new_key "$key"

# A renewal needs a certificate of this CA: one real enrollment first.
sw_enroll "$key" "$IT_WORK/old.crt" "$IT_WORK/ca" aes sha256 "CN=seed-sw-renew,O=scepd fuzz" \
    --password "$IT_CHALLENGE" || fail "strongSwan enrollment failed: $(tail -n 3 "$IT_WORK/old.crt.log")"
new_key "$IT_WORK/new.key"
capture strongswan_renewal_aes_sha256 sw_enroll "$IT_WORK/new.key" "$IT_WORK/new.crt" "$IT_WORK/ca" \
    aes sha256 "CN=seed-sw-renew,O=scepd fuzz" --cert "$IT_WORK/old.crt" --key "$key"

capture micromdm_des_sha1 mm_enroll seed-mm

say "scepd answers every captured request with a CertRep and issues for each"
before=$(sqlite3 "$SCEPD_STATE/scepd.db" "SELECT count(*) FROM certificates;")
for f in "$out"/client_*.der; do
    st_ct=$(curl -sS -m 20 -o "$IT_WORK/rep" -w '%{http_code} %{content_type}' \
        -H 'Content-Type: application/x-pki-message' --data-binary "@$f" \
        "$SCEPD_URL?operation=PKIOperation") || fail "$(basename "$f"): curl failed"
    [ "$st_ct" = "200 application/x-pki-message" ] || fail "$(basename "$f"): answered $st_ct"
done
after=$(sqlite3 "$SCEPD_STATE/scepd.db" "SELECT count(*) FROM certificates;")
[ $((after - before)) = "$n_captured" ] ||
    fail "scepd issued $((after - before)) certificates for $n_captured captured requests"
scepd_stop
say "$n_captured seeds in $out"
