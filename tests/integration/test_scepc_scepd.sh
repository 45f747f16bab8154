#!/bin/sh
# scepc against our scepd: enrollment over GET and POST with AES and
# DES3, SHA-1 and SHA-256; renewal with a new key and with --reuse-key;
# GetCert and GetCRL; the CA pinned by fingerprint.
. "$(dirname "$0")/test_scepc_common.sh"
CHALLENGE=pw-$$
start_scepd "$WORK/d"
cd "$WORK"

expect_rc 0 "$SCEPC" cacert --url "$URL" --out ca.pem
FP=$(openssl x509 -in ca.pem -noout -fingerprint -sha256 | sed 's/.*=//')

for m in get post; do
    for c in aes des3; do
        for d in sha1 sha256; do
            n=$m-$c-$d
            expect_rc 0 "$SCEPC" enroll --url "$URL" --fingerprint "$FP" --challenge "$CHALLENGE" \
                --subject "CN=$n,O=Test" --san "DNS:$n.example" --san IP:192.0.2.7 \
                --method $m --cipher $c --digest $d --key "$n.key" --cert "$n.crt"
            openssl verify -CAfile ca.pem "$n.crt" >/dev/null || fail "$n: does not verify"
            subject_of "$n.crt" | grep -q "CN=$n" || fail "$n: subject $(subject_of "$n.crt")"
        done
    done
done

# The challenge from the environment and from a file (kept out of ps).
SCEPC_CHALLENGE=$CHALLENGE expect_rc 0 "$SCEPC" enroll --url "$URL" --subject CN=env \
    --key env.key --cert env.crt
printf '%s\n' "$CHALLENGE" >secret
expect_rc 0 "$SCEPC" enroll --url "$URL" --challenge-file secret --subject CN=file \
    --key file.key --cert file.crt --format der --key-size 3072
openssl x509 -inform DER -in file.crt -noout || fail "--format der did not write DER"

for m in get post; do
    k=$m-aes-sha256.key; c=$m-aes-sha256.crt
    old=$(serial_of "$c"); oldkey=$(openssl pkey -in "$k" -pubout)
    expect_rc 0 "$SCEPC" renew --url "$URL" --method $m --key "$k" --cert "$c"
    [ "$(serial_of "$c")" != "$old" ] || fail "renew ($m) kept the old certificate"
    [ "$(openssl pkey -in "$k" -pubout)" != "$oldkey" ] || fail "renew ($m) kept the old key"
    [ "$(openssl x509 -in "$c" -noout -pubkey)" = "$(openssl pkey -in "$k" -pubout)" ] ||
        fail "renew ($m): certificate and key do not match"
done
oldkey=$(openssl pkey -in post-des3-sha1.key -pubout)
expect_rc 0 "$SCEPC" renew --url "$URL" --reuse-key --key post-des3-sha1.key --cert post-des3-sha1.crt
[ "$(openssl x509 -in post-des3-sha1.crt -noout -pubkey)" = "$oldkey" ] || fail "--reuse-key changed the key"

ser=$(serial_of get-aes-sha1.crt | sed 's/.*=//')
expect_rc 0 "$SCEPC" getcert --url "$URL" --key post-aes-sha256.key --cert post-aes-sha256.crt \
    --serial "$ser" --out got.crt
[ "$(serial_of got.crt)" = "$(serial_of get-aes-sha1.crt)" ] || fail "getcert returned another certificate"
expect_rc 0 "$SCEPC" getcrl --url "$URL" --key post-aes-sha256.key --cert post-aes-sha256.crt --out crl.pem
openssl crl -in crl.pem -noout -CAfile ca.pem 2>/dev/null || fail "getcrl: CRL does not verify"
echo PASS
