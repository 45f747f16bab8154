#!/bin/sh
# scepc against scepd --approval manual: enrollments over POST
# (AES/SHA-256) and GET (DES3/SHA-1) wait in the background, polling a
# PENDING request, until `scepctl approve` lets the next CertPoll collect
# the certificate (exit 0); a rejected enrollment ends with exit 3 (CertRep
# FAILURE) and leaves no files behind; one that outlives --max-wait exits
# 7 with its key saved, and `scepc poll` collects it once approved.
# Every wait is bounded.
. "$(dirname "$0")/test_scepc_common.sh"
: "${SCEPCTL:?set SCEPCTL to the scepctl binary}"
CHALLENGE=pw-$$
start_scepd "$WORK/d" --approval manual
STATE=$WORK/d/state
cd "$WORK"

ctl() { "$SCEPCTL" --state-dir "$STATE" "$@"; }

# request_field CN FIELD: FIELD of the request whose subject holds CN=CN
# (scepctl --json requests --status all); empty when there is none.
request_field() {
    ctl --json requests --status all >requests.json 2>requests.err ||
        fail "scepctl --json requests failed: $(cat requests.err)"
    python3 - requests.json "$1" "$2" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
rows = doc.get("requests", []) if isinstance(doc, dict) else doc
want = re.compile(r"(^|[,/ ])CN=" + re.escape(sys.argv[2]) + r"($|[,/ ])")
for r in rows:
    if want.search(str(r.get("subject", ""))):
        v = str(r.get(sys.argv[3], ""))
        print(v.lower() if sys.argv[3] == "status" else v)
        break
PY
}

# wait_pending CN PID: at most 30 s for CN's request to be pending while
# the client PID keeps polling.
wait_pending() {
    i=0
    while [ $i -lt 60 ]; do
        st=$(request_field "$1" status)
        [ "$st" = pending ] && return 0
        kill -0 "$2" 2>/dev/null || { cat "$1.log" >&2; fail "scepc exited before CN=$1 was pending"; }
        sleep 0.5; i=$((i + 1))
    done
    fail "the request of CN=$1 is '$st' after 30 s (want pending)"
}

# wait_rc PID SECONDS: waits for the background scepc, sets RC.
wait_rc() {
    i=0
    while [ $i -lt $(($2 * 10)) ] && kill -0 "$1" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    kill -0 "$1" 2>/dev/null && fail "scepc (pid $1) still runs $2 s after the decision"
    RC=0
    wait "$1" || RC=$?
}

expect_rc 0 "$SCEPC" cacert --url "$URL" --out ca.pem
FP=$(openssl x509 -in ca.pem -noout -fingerprint -sha256 | sed 's/.*=//')

for combo in post:aes:sha256 get:des3:sha1; do
    m=${combo%%:*}; rest=${combo#*:}; c=${rest%%:*}; d=${rest#*:}
    n=appr-$m-$c-$d
    "$SCEPC" enroll --url "$URL" --fingerprint "$FP" --challenge "$CHALLENGE" \
        --subject "CN=$n,O=Test" --method "$m" --cipher "$c" --digest "$d" \
        --key "$n.key" --cert "$n.crt" --max-wait 60 --poll-interval 1 >"$n.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    wait_pending "$n" "$pid"
    [ -e "$n.crt" ] && fail "$n: a certificate was written while pending"
    id=$(request_field "$n" id)
    [ -n "$id" ] || fail "$n: scepctl --json requests shows no id"
    ctl approve "$id" >/dev/null 2>approve.err || fail "scepctl approve $id: $(cat approve.err)"
    wait_rc "$pid" 40
    [ "$RC" -eq 0 ] || { cat "$n.log" >&2; fail "$n: scepc exited $RC after approval (want 0)"; }
    grep -q pending "$n.log" || fail "$n: scepc never reported the request pending"
    openssl verify -CAfile ca.pem "$n.crt" >/dev/null || fail "$n: does not verify"
    subject_of "$n.crt" | grep -q "CN=$n" || fail "$n: subject $(subject_of "$n.crt")"
    [ "$(openssl x509 -in "$n.crt" -noout -pubkey)" = "$(openssl pkey -in "$n.key" -pubout)" ] ||
        fail "$n: certificate and key do not match"
    [ "$(request_field "$n" status)" = issued ] || fail "$n: request is not marked issued"
done

# Rejected: FAILURE is exit 3, and nothing is left on disk.
n=appr-rejected
"$SCEPC" enroll --url "$URL" --fingerprint "$FP" --challenge "$CHALLENGE" --subject "CN=$n" \
    --key "$n.key" --cert "$n.crt" --max-wait 60 --poll-interval 1 >"$n.log" 2>&1 &
pid=$!
PIDS="$PIDS $pid"
wait_pending "$n" "$pid"
tid=$(request_field "$n" transaction_id)
[ -n "$tid" ] || fail "$n: scepctl --json requests shows no transaction_id"
ctl reject "$tid" --reason "not ours" >/dev/null 2>reject.err || fail "scepctl reject: $(cat reject.err)"
wait_rc "$pid" 40
[ "$RC" -eq 3 ] || { cat "$n.log" >&2; fail "$n: scepc exited $RC after rejection (want 3)"; }
grep -q "not ours" "$n.log" || fail "$n: scepc did not show the rejection reason"
no_files "$n.crt" "$n.key"

# Outliving --max-wait: exit 7 with the key kept; approved later, `scepc
# poll` with the same key and subject collects the certificate.
n=appr-later
expect_rc 7 "$SCEPC" enroll --url "$URL" --fingerprint "$FP" --challenge "$CHALLENGE" \
    --subject "CN=$n" --key "$n.key" --cert "$n.crt" --max-wait 2 --poll-interval 1
[ -s "$n.key" ] || fail "$n: the key of the pending request was not saved"
no_files "$n.crt"
[ "$(request_field "$n" status)" = pending ] || fail "$n: request is not pending"
ctl approve "$(request_field "$n" transaction_id)" >/dev/null 2>approve.err ||
    fail "scepctl approve by transactionID: $(cat approve.err)"
expect_rc 0 "$SCEPC" poll --url "$URL" --fingerprint "$FP" --subject "CN=$n" --key "$n.key" \
    --cert "$n.crt" --max-wait 30 --poll-interval 1
openssl verify -CAfile ca.pem "$n.crt" >/dev/null || fail "$n: does not verify"

ctl audit --verify >/dev/null 2>verify.err || fail "scepctl audit --verify: $(cat verify.err)"
echo PASS
