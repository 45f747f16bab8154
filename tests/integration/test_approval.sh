#!/usr/bin/env bash
# Manual approval end to end: scepd --approval manual holds strongSwan's
# enrollment as a PENDING request while pki polls it with CertPoll
# (RFC 8894 3.3.3); `scepctl approve ID` lets the next poll collect the
# certificate.  A second enrollment is rejected with
# `scepctl reject TXID --reason` and pki's next poll gets a signed FAILURE
# badRequest.  The audit chain, with the request events, verifies.  Every
# wait is bounded.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl python3

ctl() { "$SCEPCTL" --state-dir "$SCEPD_STATE" "$@"; }

# request_field CN FIELD: FIELD of the request whose subject holds CN=CN,
# from `scepctl --json requests --status all`; prints nothing when there is none.
request_field() {
    ctl --json requests --status all >"$IT_WORK/requests.json" 2>"$IT_WORK/requests.err" ||
        fail "scepctl --json requests failed: $(cat "$IT_WORK/requests.err")"
    python3 - "$IT_WORK/requests.json" "$1" "$2" <<'PY'
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

# wait_request CN STATUS PID: waits (at most 30 s) until the request of CN
# has STATUS, failing early when the client PID gave up.
wait_request() {
    local i st=
    for i in $(seq 1 60); do
        st=$(request_field "$1" status)
        [ "$st" = "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || fail "the client exited while waiting for the request of CN=$1 to be $2 (it is '$st')"
        sleep 0.5
    done
    fail "the request of CN=$1 is '$st' after 30 s (want $2)"
}

# wait_exit PID SECONDS: waits for a background client and sets WAIT_RC.
wait_exit() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && fail "the client (pid $1) still runs $2 s after the decision"
    WAIT_RC=0
    wait "$1" || WAIT_RC=$?
}

scepd_start appr --approval manual
fetch_ca_certs "$IT_WORK/ca"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k1.pem" 2>/dev/null
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k2.pem" 2>/dev/null

say "pki --scep (aes/sha256) waits: its request is PENDING, nothing is issued"
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca" aes sha256 "CN=sw-held, O=scepd test" \
    --password "$IT_CHALLENGE" --maxpolltime 60 &
pki1=$!
IT_PIDS+=("$pki1")
wait_request sw-held pending "$pki1"
id=$(request_field sw-held id)
[ -n "$id" ] || fail "scepctl --json requests shows no id for CN=sw-held"
sleep 2 # a few CertPolls while pending
kill -0 "$pki1" 2>/dev/null || fail "pki gave up while the request was pending: $(tail -n 5 "$IT_WORK/c1.pem.log")"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 0 ] || fail "$n certificate(s) issued before any approval"
grep 'op=PKIOperation' "$SCEPD_LOG" | grep -q 'outcome=pending' ||
    fail "scepd logged no PKIOperation with outcome=pending"
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'request-pending';")
[ "$n" = 1 ] || fail "$n request-pending audit events for one held request (want 1)"

say "scepctl approve $id: pki's next poll gets the certificate"
ctl approve "$id" >/dev/null 2>"$IT_WORK/approve.err" ||
    fail "scepctl approve $id failed: $(cat "$IT_WORK/approve.err")"
wait_exit "$pki1" 30
[ "$WAIT_RC" = 0 ] || fail "pki --scep failed after approval (status $WAIT_RC): $(tail -n 5 "$IT_WORK/c1.pem.log")"
check_verifies "$IT_WORK/c1.pem" "$SCEPD_STATE/ca.crt"
check_same_key "$IT_WORK/c1.pem" "$IT_WORK/k1.pem"
check_stored "$IT_WORK/c1.pem"
openssl x509 -in "$IT_WORK/c1.pem" -noout -subject -nameopt RFC2253 | grep -q 'CN=sw-held' ||
    fail "the approved certificate's subject lacks CN=sw-held"
[ "$(request_field sw-held status)" = issued ] ||
    fail "the approved request is '$(request_field sw-held status)' after pki collected it (want issued)"
grep 'op=PKIOperation' "$SCEPD_LOG" | grep 'msg_type=CertPoll' | grep -q 'outcome=success' ||
    fail "scepd logged no CertPoll answered with success"

say "pki --scep (des3/sha1) for another request; scepctl reject TXID --reason 'not ours'"
sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/c2.pem" "$IT_WORK/ca" des3 sha1 "CN=sw-unwanted" \
    --password "$IT_CHALLENGE" --maxpolltime 60 --debug 2 &
pki2=$!
IT_PIDS+=("$pki2")
wait_request sw-unwanted pending "$pki2"
tid=$(request_field sw-unwanted transaction_id)
[ -n "$tid" ] || fail "scepctl --json requests shows no transaction_id for CN=sw-unwanted"
ctl reject "$tid" --reason "not ours" >/dev/null 2>"$IT_WORK/reject.err" ||
    fail "scepctl reject $tid failed: $(cat "$IT_WORK/reject.err")"
wait_exit "$pki2" 30
[ "$WAIT_RC" != 0 ] || fail "pki --scep succeeded for a rejected request"
[ -s "$IT_WORK/c2.pem" ] && fail "pki --scep wrote a certificate for a rejected request"
grep -Eq 'failInfo: +badRequest' "$IT_WORK/c2.pem.log" ||
    fail "strongSwan saw no failInfo badRequest: $(grep -E 'pkiStatus|failInfo' "$IT_WORK/c2.pem.log" | head -n 3)"
[ "$(request_field sw-unwanted status)" = rejected ] ||
    fail "the rejected request is '$(request_field sw-unwanted status)' (want rejected)"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 1 ] || fail "$n certificates stored (want only the approved one)"
grep 'op=PKIOperation' "$SCEPD_LOG" | grep 'outcome=failure' | grep -q 'fail_info=badRequest' ||
    fail "no 'op=PKIOperation ... outcome=failure fail_info=badRequest' line in scepd's log"
store_sql "SELECT detail FROM audit WHERE kind = 'refuse';" | grep -q 'rejected by an administrator: not ours' ||
    fail "no refuse audit event naming the rejection reason"

say "the audit chain verifies"
ctl audit --verify >/dev/null 2>"$IT_WORK/verify.err" ||
    fail "scepctl audit --verify failed: $(cat "$IT_WORK/verify.err")"

say "SIGTERM stops scepd with status 0"
scepd_stop

say "decided requests are purged after purge_decided_after_days, audited once, chain intact"
n=$(store_sql "SELECT count(*) FROM requests WHERE status IN (2, 3);")
[ "$n" -ge 2 ] || fail "$n rejected or issued requests before the purge (want the two of this test)"
# 40 days ago for one of them, past the default of 30; the other stays.
store_sql "UPDATE requests SET decided_at = decided_at - 40 * 86400 WHERE status = 2;"
scepd_start appr --approval manual
kept=$(store_sql "SELECT count(*) FROM requests WHERE status = 3;")
left=$(store_sql "SELECT count(*) FROM requests WHERE status = 2;")
[ "$left" = 0 ] || fail "$left rejected requests left after 40 days (want 0)"
[ "$kept" -ge 1 ] || fail "the issued request decided today was purged too"
[ "$(store_sql "SELECT count(*) FROM audit WHERE kind = 'request-purge';")" = 1 ] ||
    fail "want one request-purge audit event"
grep -q 'msg=requests-purged.*count=1' "$SCEPD_LOG" || fail "no requests-purged log line with count=1"
scepd_stop
scepd_start appr --approval manual
[ "$(store_sql "SELECT count(*) FROM audit WHERE kind = 'request-purge';")" = 1 ] ||
    fail "a purge with nothing to delete wrote an audit event"
ctl audit --verify >/dev/null 2>"$IT_WORK/verify.err" ||
    fail "scepctl audit --verify after the purge failed: $(cat "$IT_WORK/verify.err")"
scepd_stop
