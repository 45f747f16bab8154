#!/usr/bin/env bash
# Webhook verification: a profile POSTs each new enrollment, signed with
# X-Scepd-Signature (HMAC-SHA256 of the body), to an outside service and
# issues only on {"allow": true}.  A test webhook on 127.0.0.1 checks the
# HMAC and allows, denies, fails or hangs by path; scepd denies on
# everything but an allow, within its timeout when the webhook hangs,
# and while it waits the same (single) worker still answers GetCACaps
# at once.
. "$(dirname "$0")/lib.sh"
need pki openssl curl python3 sqlite3

SECRET="hook-$IT_CHALLENGE"
printf '%s\n' "$SECRET" >"$IT_WORK/secret"
chmod 600 "$IT_WORK/secret"
python3 "$SCEP_IT_DIR/webhook_server.py" --port-file "$IT_WORK/hook.port" --secret "$SECRET" \
    --log "$IT_WORK/hook.log" 2>"$IT_WORK/hook.err" &
IT_PIDS+=("$!")
for i in $(seq 1 100); do [ -s "$IT_WORK/hook.port" ] && break; sleep 0.1; done
[ -s "$IT_WORK/hook.port" ] || fail "the test webhook did not start: $(cat "$IT_WORK/hook.err")"
HOOK=http://127.0.0.1:$(cat "$IT_WORK/hook.port")

{
    for p in allow deny error; do
        printf '[profile %s]\nwebhook_url = %s/%s\nwebhook_secret_file = %s\n\n' \
            "$p" "$HOOK" "$p" "$IT_WORK/secret"
    done
    printf '[profile hang]\nwebhook_url = %s/hang\nwebhook_secret_file = %s\nwebhook_timeout_ms = 2000\n\n' \
        "$HOOK" "$IT_WORK/secret"
    printf '[profile wrongkey]\nwebhook_url = %s/allow\nwebhook_secret = not-the-secret\n\n' "$HOOK"
    printf '[profile both]\nchallenge = both-%s\nwebhook_url = %s/allow\nwebhook_secret_file = %s\n\n' \
        "$IT_CHALLENGE" "$HOOK" "$IT_WORK/secret"
    printf '[profile gone]\nwebhook_url = http://127.0.0.1:9/\nwebhook_secret_file = %s\n' "$IT_WORK/secret"
} >"$IT_WORK/scepd.conf"
scepd_start hook --config "$IT_WORK/scepd.conf" --workers 1
fetch_ca_certs "$IT_WORK/ca"

# h_enroll PROFILE N [CHALLENGE]: pki --scep with a new key, DN CN=hookN.
h_enroll() {
    rsa_key "$IT_WORK/k$2.pem"
    pki --scep --url "$SCEPD_URL/$1" --in "$IT_WORK/k$2.pem" --dn "CN=hook$2" \
        --password "${3:-mdm-minted-$2}" --san "hook$2.example.com" \
        --cacert-enc "$IT_WORK/ca/enc.der" --cacert-sig "$IT_WORK/ca/sig.der" \
        --cacert "$IT_WORK/ca/ca.pem" --cipher aes --digest sha256 \
        --interval 1 --maxpolltime 10 --outform pem >"$IT_WORK/c$2.pem" 2>"$IT_WORK/c$2.log"
}
# reason TEXT: scepd logged a badRequest refusal with TEXT.
reason() {
    grep -F 'outcome=failure' "$SCEPD_LOG" | grep -qF -- "$1" ||
        fail "no refusal with '$1' in scepd's log: $(grep outcome=failure "$SCEPD_LOG" | tail -n 1)"
}

say "allow: issued, and the webhook saw a signed document with the enrollment"
h_enroll allow 1 || fail "the allowing webhook's enrollment failed: $(tail -n 3 "$SCEPD_LOG")"
python3 - "$IT_WORK/hook.log" <<'PY' || fail "the webhook's document is not what scepd sent"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = [x for x in docs if x.get("subject") == "CN=hook1"][0]
assert d["profile"] == "allow", d
assert d["challenge"] == "mdm-minted-1", d
assert d["sans"] == ["DNS:hook1.example.com"], d
assert d["key"]["type"] == "RSA" and d["key"]["bits"] == 2048, d
assert d["requester"].startswith("127.0.0.1"), d
assert d["message_type"] == "PKCSReq", d
assert len(d["transaction_id"]) > 0, d
PY
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'issue' AND detail LIKE 'CN=hook1; profile=allow via=webhook%'")
[ "$n" = 1 ] || fail "no issue event with profile=allow via=webhook"

say "deny: refused with the webhook's reason"
h_enroll deny 2 && fail "the denying webhook's enrollment was issued"
reason "webhook denied: not in inventory"

say "HTTP 500 and a wrong signature (401) deny"
h_enroll error 3 && fail "issued although the webhook answered 500"
reason "webhook answered HTTP 500"
h_enroll wrongkey 4 && fail "issued although the webhook refused the signature"
reason "webhook answered HTTP 401"

say "no webhook listening: denied, fail-closed"
h_enroll gone 5 && fail "issued although the webhook is unreachable"
reason "webhook unreachable"

say "a static challenge and a webhook: both must pass"
h_enroll both 6 "wrong" && fail "issued with a wrong static challenge"
h_enroll both 7 "both-$IT_CHALLENGE" || fail "the right challenge and an allowing webhook were refused"

say "hang: denied within the timeout, while GetCACaps on the one worker answers at once"
t0=$(date +%s%N)
h_enroll hang 8 &
hang_pid=$!
sleep 0.5
for i in 1 2 3; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "$SCEPD_URL?operation=GetCACaps") ||
        fail "GetCACaps failed while the webhook hung"
    python3 -c "import sys; sys.exit(0 if float('$t') < 0.5 else 1)" ||
        fail "GetCACaps took ${t}s while the webhook hung (the worker was blocked)"
done
wait "$hang_pid" && fail "issued although the webhook hung"
t1=$(date +%s%N)
elapsed=$(((t1 - t0) / 1000000))
[ "$elapsed" -lt 8000 ] || fail "the hanging webhook held the enrollment ${elapsed} ms (timeout 2000)"
reason "webhook timed out after 2000 ms"

say "renewals are not sent to the webhook"
before=$(wc -l <"$IT_WORK/hook.log")
rsa_key "$IT_WORK/new1.pem"
pki --scep --url "$SCEPD_URL/allow" --in "$IT_WORK/new1.pem" --dn "CN=hook1" \
    --cert "$IT_WORK/c1.pem" --key "$IT_WORK/k1.pem" \
    --cacert-enc "$IT_WORK/ca/enc.der" --cacert-sig "$IT_WORK/ca/sig.der" \
    --cacert "$IT_WORK/ca/ca.pem" --cipher aes --digest sha256 \
    --interval 1 --maxpolltime 10 --outform pem >"$IT_WORK/renewed.pem" 2>"$IT_WORK/renewed.log" ||
    fail "renewal at the allow profile failed: $(tail -n 2 "$SCEPD_LOG")"
[ "$(wc -l <"$IT_WORK/hook.log")" = "$before" ] || fail "a renewal was sent to the webhook"
scepd_stop
