#!/bin/sh
# scepc against micromdm's reference server (Debian package scep):
# enrollment with the CA pinned, renewal, and a refused challenge.
. "$(dirname "$0")/test_scepc_common.sh"
command -v scepserver >/dev/null || { echo "scepserver not installed: skipped"; exit 77; }

cd "$WORK"
scepserver ca -init -depot depot >/dev/null 2>&1
PORT=$(free_port)
scepserver -depot depot -port "$PORT" -challenge s3cret -allowrenew 0 >srv.log 2>&1 &
PIDS="$PIDS $!"
URL="http://127.0.0.1:$PORT/scep"
i=0
until "$SCEPC" caps --url "$URL" >caps.txt 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "scepserver did not start"; sleep 0.1
done
grep -qx POSTPKIOperation caps.txt || fail "caps: $(cat caps.txt)"

FP=$(openssl x509 -in depot/ca.pem -noout -fingerprint -sha256 | sed 's/.*=//')
expect_rc 0 "$SCEPC" enroll --url "$URL" --fingerprint "$FP" --challenge s3cret \
    --subject 'CN=dev1' --san DNS:dev1.example --key key.pem --cert cert.pem
openssl verify -CAfile depot/ca.pem cert.pem >/dev/null || fail "issued cert does not verify"
[ "$(stat -c %a key.pem)" = 600 ] || fail "key.pem is not 0600"
openssl x509 -in cert.pem -noout -ext subjectAltName | grep -q DNS:dev1.example || fail "SAN lost"

# GET with DES3 and SHA-1, as legacy clients do.
expect_rc 0 "$SCEPC" enroll --url "$URL" --challenge s3cret --subject 'CN=dev2' \
    --method get --cipher des3 --digest sha1 --key key2.pem --cert cert2.pem

old=$(serial_of cert.pem)
expect_rc 0 "$SCEPC" renew --url "$URL" --challenge s3cret --key key.pem --cert cert.pem
[ "$(serial_of cert.pem)" != "$old" ] || fail "renew did not replace the certificate"
openssl x509 -in cert.pem -noout -pubkey >new.pub
openssl pkey -in key.pem -pubout >key.pub
cmp -s new.pub key.pub || fail "renewed certificate does not match the new key"

expect_rc 3 "$SCEPC" enroll --url "$URL" --challenge wrong --subject 'CN=dev3' \
    --key key3.pem --cert cert3.pem
no_files key3.pem cert3.pem
echo PASS
