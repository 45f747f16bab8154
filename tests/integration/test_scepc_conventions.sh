#!/bin/sh
# scepc's conventions (issue "operability"): --help goes to stdout; the
# certbot layout (cert.pem, chain.pem, fullchain.pem) is written on
# request; a refusal's hint matches the refusal; watch --dry-run says
# when each certificate is due and renews nothing; renew_at = 0 is
# refused with a message that says what is wanted.
. "$(dirname "$0")/test_scepc_common.sh"
CHALLENGE=pw-$$
start_scepd "$WORK/d"
cd "$WORK"

for c in "" enroll renew poll watch caps cacert getcert getcrl; do
    # shellcheck disable=SC2086
    "$SCEPC" $c --help >help.out 2>help.err || fail "scepc $c --help exited $?"
    [ -s help.out ] || fail "scepc $c --help printed nothing on stdout"
    [ -s help.err ] && fail "scepc $c --help wrote to stderr: $(cat help.err)"
done

# One fingerprint convention: scepc cacert prints what scepd logs.
expect_rc 0 "$SCEPC" cacert --url "$URL" --out cacert.pem >cacert.out
shown=$(sed -n 's/^ *sha256 //p' cacert.out | head -n 1)
logged=$(grep -o 'ca_fingerprint=[0-9a-fA-F]*' "$WORK/d/err.log" "$WORK/d/out.log" | head -n 1 | cut -d= -f2)
[ -n "$shown" ] && [ "$shown" = "$logged" ] ||
    fail "scepc cacert shows '$shown', scepd logged '$logged'"
expect_rc 0 "$SCEPC" cacert --url "$URL" --fingerprint "$(echo "$shown" | tr a-f A-F)" --out pinned.pem

expect_rc 0 "$SCEPC" enroll --url "$URL" --challenge "$CHALLENGE" --subject CN=conv --key key.pem \
    --cert cert.pem --chain chain.pem --fullchain fullchain.pem
[ "$(grep -c 'BEGIN CERTIFICATE' fullchain.pem)" = 2 ] || fail "fullchain.pem holds $(grep -c 'BEGIN CERTIFICATE' fullchain.pem) certificates"
cat cert.pem chain.pem | cmp -s - fullchain.pem || fail "fullchain.pem is not cert.pem then chain.pem"

expect_rc 3 "$SCEPC" enroll --url "$URL" --challenge wrong --subject CN=nope --key n.key --cert n.crt
grep -q "check the challenge password" stderr || fail "no challenge hint: $(cat stderr)"
serial=$(openssl x509 -in cert.pem -noout -serial | cut -d= -f2)
"$SCEPCTL" --state-dir "$WORK/d/state" revoke "$serial" >/dev/null 2>&1 || fail "scepctl revoke failed"
expect_rc 3 "$SCEPC" renew --url "$URL" --key key.pem --cert cert.pem
grep -q "cannot renew" stderr || fail "the hint after a revoked signer: $(cat stderr)"
grep -q "check the challenge password" stderr && fail "a challenge hint after a renewal refusal"

expect_rc 0 "$SCEPC" enroll --url "$URL" --challenge "$CHALLENGE" --subject CN=watched --key w.key \
    --cert w.pem
cp w.pem w.before
cat >watch.ini <<INI
[watch]
url = $URL
renew_at = 50%
[cert web]
key = $WORK/w.key
cert = $WORK/w.pem
INI
"$SCEPC" watch --config watch.ini --dry-run >stdout 2>stderr || fail "watch --dry-run: $(cat stderr)"
grep -q "^web: $WORK/w.pem: due at " stdout || fail "dry run said: $(cat stdout)"
cmp -s w.pem w.before || fail "watch --dry-run changed the certificate"
sed 's/renew_at = 50%/renew_at = 0/' watch.ini >zero.ini
expect_rc 2 "$SCEPC" watch --config zero.ini --once
grep -q "renew_at = 0: give the share of the lifetime" stderr || fail "renew_at = 0 said: $(cat stderr)"
