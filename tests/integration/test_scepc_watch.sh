#!/bin/sh
# scepc watch renews a short-lived certificate (scepd validity_seconds)
# once its renew-at share of the lifetime has passed, swaps the files and
# runs the post-renew hook -- well within a minute.  Also checks --once
# with an INI config and the retry path while the server is down.
. "$(dirname "$0")/test_scepc_common.sh"
CHALLENGE=pw-$$
start_scepd "$WORK/d" --validity-seconds 20
cd "$WORK"

expect_rc 0 "$SCEPC" enroll --url "$URL" --challenge "$CHALLENGE" --subject CN=watched \
    --key w.key --cert w.crt
first=$(serial_of w.crt)
oldkey=$(openssl pkey -in w.key -pubout)

# Default share (two thirds of 20 s): the renewal comes after about 13 s.
"$SCEPC" watch --url "$URL" --key w.key --cert w.crt --check-interval 1 \
    --hook 'echo "$SCEPC_NAME $SCEPC_CERT" >>hook.log' 2>watch.err &
WPID=$!
PIDS="$PIDS $WPID"
i=0
while [ ! -s hook.log ]; do
    i=$((i + 1)); [ $i -lt 400 ] || { cat watch.err >&2; fail "no renewal within 40 s"; }
    sleep 0.1
done
kill "$WPID"
grep -q "default w.crt" hook.log || fail "hook ran with wrong environment: $(cat hook.log)"
[ "$(serial_of w.crt)" != "$first" ] || fail "certificate not replaced"
[ "$(openssl pkey -in w.key -pubout)" != "$oldkey" ] || fail "key not replaced"
[ "$(openssl x509 -in w.crt -noout -pubkey)" = "$(openssl pkey -in w.key -pubout)" ] ||
    fail "swapped certificate and key do not match"
[ "$(stat -c %a w.key)" = 600 ] || fail "renewed key is not 0600"
ls w.key.tmp.* w.crt.tmp.* >/dev/null 2>&1 && fail "temporary files left"

# --once from a config file, with a share that is already past: renews now.
cat >watch.ini <<INI
[watch]
url = $URL
renew_at = 1%
[cert vpn]
key = $WORK/w.key
cert = $WORK/w.crt
hook = echo once >>$WORK/once.log
reuse_key = yes
INI
second=$(serial_of w.crt)
expect_rc 0 "$SCEPC" watch --config watch.ini --once
[ "$(serial_of w.crt)" != "$second" ] || fail "--once did not renew"
grep -qx once once.log || fail "--once did not run the hook"

# Server unreachable: --once reports the failure and keeps the files.
third=$(serial_of w.crt)
expect_rc 1 "$SCEPC" watch --url "http://127.0.0.1:$(free_port)/scep" --key w.key --cert w.crt \
    --renew-at 1% --once
grep -q "retrying in" stderr || fail "no retry message"
[ "$(serial_of w.crt)" = "$third" ] || fail "failed renewal touched the certificate"
echo PASS
