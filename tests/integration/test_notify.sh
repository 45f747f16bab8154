#!/usr/bin/env bash
# Expiry notifications (issue 8): certificates valid for 45 seconds and
# thresholds of 30 and 15 seconds (notify_days takes units) make scepd's
# notify thread, looking every second, send one signed webhook notice per
# certificate and threshold to a test receiver (webhook_server.py checks
# the HMAC) and digest mails, through SMTP AUTH, to a sink this test
# starts (smtp_sink.py).  scepd is restarted between the two thresholds:
# nothing is sent twice, nothing is lost.  A revoked certificate is never
# announced; scepctl expiring lists what the job sees; the gauges on
# /metrics count it.
. "$(dirname "$0")/lib.sh"
need openssl curl python3 sqlite3
[ -n "${SCEPC:-}" ] && [ -x "$SCEPC" ] || fail "SCEPC (the scepc program) is not set"

SECRET="notify-$IT_CHALLENGE"
printf '%s\n' "$SECRET" >"$IT_WORK/secret"
chmod 600 "$IT_WORK/secret"
printf 'mail-pw-%s\n' "$IT_CHALLENGE" >"$IT_WORK/smtp.pw"
chmod 600 "$IT_WORK/smtp.pw"

python3 "$SCEP_IT_DIR/webhook_server.py" --port-file "$IT_WORK/hook.port" --secret "$SECRET" \
    --log "$IT_WORK/hook.log" 2>"$IT_WORK/hook.err" &
IT_PIDS+=("$!")
python3 "$SCEP_IT_DIR/smtp_sink.py" --port-file "$IT_WORK/smtp.port" --dir "$IT_WORK/mail" \
    --user scepd --password "mail-pw-$IT_CHALLENGE" 2>"$IT_WORK/smtp.err" &
IT_PIDS+=("$!")
for i in $(seq 1 100); do
    [ -s "$IT_WORK/hook.port" ] && [ -s "$IT_WORK/smtp.port" ] && break
    sleep 0.1
done
[ -s "$IT_WORK/hook.port" ] || fail "the test webhook did not start: $(cat "$IT_WORK/hook.err")"
[ -s "$IT_WORK/smtp.port" ] || fail "the SMTP sink did not start: $(cat "$IT_WORK/smtp.err")"

cat >"$IT_WORK/scepd.conf" <<CONF
[enroll]
validity_seconds = 45

[notify]
notify_days = 30s, 15s
notify_interval_seconds = 1
notify_webhook_url = http://127.0.0.1:$(cat "$IT_WORK/hook.port")/allow
notify_webhook_secret_file = $IT_WORK/secret
smtp_url = smtp://127.0.0.1:$(cat "$IT_WORK/smtp.port")
smtp_from = scepd@ca.example
smtp_to = ops@example.org, pki@example.org
smtp_user = scepd
smtp_password_file = $IT_WORK/smtp.pw
smtp_timeout_seconds = 5
CONF

say "bad [notify] values are refused at start with FILE:LINE, exit 2"
bad() {
    local rc=0
    printf '[notify]\n%s\n' "$1" >"$IT_WORK/bad.conf"
    "$SCEPD" --config "$IT_WORK/bad.conf" --state-dir "$IT_WORK/bad" --listen 127.0.0.1:0 \
        >/dev/null 2>"$IT_WORK/bad.err" || rc=$?
    [ "$rc" = 2 ] || fail "scepd accepted '$1' (exit $rc)"
    grep -qF -- "$2" "$IT_WORK/bad.err" || fail "'$1': no '$2' in: $(cat "$IT_WORK/bad.err")"
}
bad "notify_days = 7,0" "bad.conf:2: notify_days:"
bad "notify_days = 7x" "bad.conf:2: notify_days:"
bad "smtp_url = http://mail.example" "bad.conf:2: smtp_url:"
bad "smtp_to = ops@example.org, not an address" "bad.conf:2: smtp_to:"
bad "smtp_from = a@b
smtp_to = c@d" "smtp_from is set but smtp_url is not"
bad "notify_webhook_url = http://127.0.0.1:9/" "notify_webhook_url needs"
chmod 640 "$IT_WORK/smtp.pw"
bad "smtp_url = smtp://127.0.0.1:9
smtp_from = a@b
smtp_to = c@d
smtp_user = u
smtp_password_file = $IT_WORK/smtp.pw" "readable or writable by its group"
chmod 600 "$IT_WORK/smtp.pw"

scepd_start notify --config "$IT_WORK/scepd.conf"
FP=$(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
enroll() {
    "$SCEPC" enroll --url "$SCEPD_URL" --challenge "$IT_CHALLENGE" --subject "CN=$1" \
        --key "$IT_WORK/$1.key" --cert "$IT_WORK/$1.crt" --fingerprint "$FP" \
        >"$IT_WORK/$1.log" 2>&1 || fail "scepc enroll $1 failed: $(tail -n 5 "$IT_WORK/$1.log")"
}
t0=$(date +%s)
for n in exp1 exp2 exp3; do enroll "$n"; done
S1=$(cert_serial "$IT_WORK/exp1.crt")
S2=$(cert_serial "$IT_WORK/exp2.crt")
S3=$(cert_serial "$IT_WORK/exp3.crt")
"$SCEPCTL" --state-dir "$SCEPD_STATE" revoke "$S3" >/dev/null || fail "scepctl revoke failed"

say "scepctl expiring lists what the job sees: not the revoked one"
"$SCEPCTL" --config "$IT_WORK/scepd.conf" --state-dir "$SCEPD_STATE" expiring --within 1h --json \
    >"$IT_WORK/expiring.json" || fail "scepctl expiring failed"
python3 - "$IT_WORK/expiring.json" "$S1" "$S2" "$S3" <<'PY' || fail "scepctl expiring: $(cat "$IT_WORK/expiring.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
serials = [r["serial"] for r in rows]
assert sys.argv[2] in serials and sys.argv[3] in serials, serials
assert sys.argv[4] not in serials, serials
for r in rows:
    assert 0 < r["seconds_left"] <= 45, r
    assert r["threshold"] in (None, "30s", "15s"), r
PY
"$SCEPCTL" --config "$IT_WORK/scepd.conf" --state-dir "$SCEPD_STATE" expiring --within 1h \
    >"$IT_WORK/expiring.txt" || fail "scepctl expiring (table) failed"
grep -q "^SERIAL  *NOT_AFTER  *LEFT  *THRESHOLD  *SUBJECT" "$IT_WORK/expiring.txt" ||
    fail "scepctl expiring prints no table: $(cat "$IT_WORK/expiring.txt")"
[ "$(store_sql 'SELECT count(*) FROM notices')" -le 4 ] || fail "scepctl expiring claimed notices"

# notices SERIAL THRESHOLD: webhook documents received for that notice.
notices() {
    python3 - "$IT_WORK/hook.log" "$1" "$2" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1]):
    if l.strip():
        d = json.loads(l)
        if d.get("serial") == sys.argv[2] and d.get("threshold_seconds") == int(sys.argv[3]):
            n += 1
print(n)
PY
}
# wait_notices THRESHOLD SECONDS: both certificates' notices arrive in time.
wait_notices() {
    local i
    for i in $(seq 1 $(($2 * 5))); do
        [ "$(notices "$S1" "$1")" -ge 1 ] && [ "$(notices "$S2" "$1")" -ge 1 ] && return 0
        sleep 0.2
    done
    fail "no $1 s notices for $S1 and $S2 within $2 s: $(cat "$IT_WORK/hook.log")"
}

say "the 30 s threshold: one notice per certificate, then a restart"
wait_notices 30 40
sleep 2
scepd_stop
scepd_start notify --config "$IT_WORK/scepd.conf"

say "the 15 s threshold, after the restart"
wait_notices 15 40
sleep 3

say "exactly one webhook notice per certificate and threshold; none for the revoked one"
for s in "$S1" "$S2"; do
    for t in 30 15; do
        [ "$(notices "$s" "$t")" = 1 ] || fail "$(notices "$s" "$t") webhook notices for $s/$t (want 1)"
    done
done
grep -q "\"serial\":\"$S3\"" "$IT_WORK/hook.log" && fail "the revoked $S3 was announced"
[ "$(grep -c . "$IT_WORK/hook.log")" = 4 ] || fail "$(grep -c . "$IT_WORK/hook.log") webhook notices (want 4)"
python3 - "$IT_WORK/hook.log" <<'PY' || fail "a webhook notice lacks what it must carry"
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    assert d["event"] == "certificate-expiring", d
    assert d["notice_id"] == "%s/%d" % (d["serial"], d["threshold_seconds"]), d
    assert d["subject"] in ("CN=exp1", "CN=exp2"), d
    assert d["issuer"] == "CN=scepd CA", d
    assert d["threshold"] == "%ds" % d["threshold_seconds"], d
    assert d["days_left"] == 0 and 0 < d["seconds_left"] <= d["threshold_seconds"], d
    assert d["not_after"] - d["not_before"] >= 44, d
PY

say "every notice in exactly one digest mail, with RFC 5322 headers, through SMTP AUTH"
python3 - "$IT_WORK/mail" "$S1" "$S2" "$S3" <<'PY' || fail "the digest mails are not right"
import email, email.policy, glob, os, re, sys
d, s1, s2, s3 = sys.argv[1:]
msgs = sorted(glob.glob(os.path.join(d, "msg-*.eml")))
assert msgs, "no mail"
seen, ids = {}, set()
for p in msgs:
    raw = open(p, "rb").read()
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in " + p
    m = email.message_from_bytes(raw, policy=email.policy.default)
    for h in ("Date", "From", "To", "Subject", "Message-ID"):
        assert m[h], "%s: no %s" % (p, h)
    assert m["From"] == "scepd@ca.example", m["From"]
    assert m["To"] == "ops@example.org, pki@example.org", m["To"]
    assert m["Message-ID"] not in ids, "Message-ID twice"
    ids.add(m["Message-ID"])
    env = open(p[:-4] + ".env").read()
    assert "MAIL FROM:<scepd@ca.example>" in env, env
    assert "RCPT TO:<ops@example.org>" in env and "RCPT TO:<pki@example.org>" in env, env
    body = m.get_content()
    assert s3 not in body, "revoked certificate in " + p
    for serial, thr in re.findall(r"serial ([0-9A-F]+)\r?\n(?:.*\r?\n)*?  expires: .*threshold (\d+)s\)", body):
        seen[(serial, thr)] = seen.get((serial, thr), 0) + 1
want = {(s, t): 1 for s in (s1, s2) for t in ("30", "15")}
assert seen == want, seen
PY

say "the store records every notice sent, once"
[ "$(store_sql "SELECT count(*) FROM notices WHERE state = 1")" = 8 ] ||
    fail "notices: $(store_sql 'SELECT serial, threshold, channel, state, attempts FROM notices')"
[ "$(store_sql "SELECT count(*) FROM notices WHERE state != 1 OR serial = '$S3'")" = 0 ] ||
    fail "unsent or revoked notices: $(store_sql 'SELECT * FROM notices')"

say "/metrics: nothing pending, the revoked one counted"
base=${SCEPD_URL%/*}
curl -sS "$base/metrics" >"$IT_WORK/metrics" || fail "GET /metrics failed"
grep -q '^scepd_notifications_pending 0$' "$IT_WORK/metrics" ||
    fail "pending: $(grep pending "$IT_WORK/metrics")"
grep -q '^scepd_certificates{status="revoked"} 1$' "$IT_WORK/metrics" ||
    fail "revoked: $(grep '^scepd_certificates{' "$IT_WORK/metrics")"

say "after expiry nothing more is sent"
while [ $(($(date +%s) - t0)) -lt 48 ]; do sleep 1; done
sleep 2
[ "$(grep -c . "$IT_WORK/hook.log")" = 4 ] || fail "notices after expiry: $(cat "$IT_WORK/hook.log")"
scepd_stop

say "a failing receiver: retried with backoff, pending on /metrics, delivered after a restart"
python3 "$SCEP_IT_DIR/webhook_server.py" --port-file "$IT_WORK/hook2.port" --secret "$SECRET" \
    --log "$IT_WORK/hook2.log" 2>"$IT_WORK/hook2.err" &
IT_PIDS+=("$!")
for i in $(seq 1 100); do [ -s "$IT_WORK/hook2.port" ] && break; sleep 0.1; done
[ -s "$IT_WORK/hook2.port" ] || fail "the second test webhook did not start"
HOOK2=http://127.0.0.1:$(cat "$IT_WORK/hook2.port")
retry_start() {
    scepd_start retry --validity-seconds 120 --notify-days 110s --notify-interval-seconds 1 \
        --notify-webhook-url "$HOOK2/$1" --notify-webhook-secret-file "$IT_WORK/secret"
}
retry_start error
FP=$(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
enroll exp4
S4=$(cert_serial "$IT_WORK/exp4.crt")
# Failed (state 2) after its second attempt: the retry came after the
# backoff.  (While an attempt is in flight the row is state 0.)
for i in $(seq 1 100); do
    [ "$(store_sql "SELECT count(*) FROM notices WHERE serial = '$S4' AND state = 2 AND attempts >= 2")" = 1 ] && break
    sleep 0.2
done
[ "$(store_sql "SELECT count(*) FROM notices WHERE serial = '$S4' AND state = 2 AND attempts >= 2")" = 1 ] ||
    fail "no second failed attempt: $(store_sql "SELECT * FROM notices WHERE serial = '$S4'")"
store_sql "SELECT last_error FROM notices WHERE serial = '$S4'" | grep -q 'HTTP 500' ||
    fail "the failure is not recorded: $(store_sql "SELECT last_error FROM notices")"
grep -q 'msg=notify-round.*failed=1' "$SCEPD_LOG" || fail "no notify-round line with failed=1"
base=${SCEPD_URL%/*}
curl -sS "$base/metrics" >"$IT_WORK/metrics2" || fail "GET /metrics failed"
grep -q '^scepd_notifications_pending 1$' "$IT_WORK/metrics2" ||
    fail "pending: $(grep pending "$IT_WORK/metrics2")"
scepd_stop
retry_start allow
for i in $(seq 1 100); do
    [ "$(store_sql "SELECT state FROM notices WHERE serial = '$S4'")" = 1 ] && break
    sleep 0.2
done
[ "$(store_sql "SELECT state FROM notices WHERE serial = '$S4'")" = 1 ] ||
    fail "the retry was not delivered: $(store_sql "SELECT * FROM notices WHERE serial = '$S4'")"
sleep 2
a=$(store_sql "SELECT attempts FROM notices WHERE serial = '$S4'")
[ "$(grep -c . "$IT_WORK/hook2.log")" = "$a" ] ||
    fail "$(grep -c . "$IT_WORK/hook2.log") POSTs for $a attempts"
[ "$a" -ge 3 ] || fail "delivered at attempt $a (want 3 or more: two failures first)"
scepd_stop
