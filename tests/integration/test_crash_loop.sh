#!/usr/bin/env bash
# Crash consistency: enrollments in a loop while scepd is SIGKILLed at a
# random moment, KILLS times on one state directory.  Afterwards every
# certificate a client received is in the store (the store commits
# before the CertRep is sent), no serial or transactionID has two
# certificates, SQLite's integrity_check is ok and the audit chain
# verifies.
. "$(dirname "$0")/lib.sh"
need openssl sqlite3
: "${SCEPC:?SCEPC must name the scepc executable}"
KILLS=${CRASH_KILLS:-100}
PAR=3 # enrollments in flight at each kill

mkdir -p "$IT_WORK/got"
received=0
for k in $(seq 1 "$KILLS"); do
    scepd_start crash --workers 2 >/dev/null
    pids=()
    for j in $(seq 1 $PAR); do
        "$SCEPC" enroll --url "$SCEPD_URL" --challenge "$IT_CHALLENGE" --subject "CN=crash-$k-$j" \
            --key "$IT_WORK/got/$k-$j.key" --cert "$IT_WORK/got/$k-$j.crt" --max-wait 0 \
            >/dev/null 2>&1 &
        pids+=("$!")
    done
    if [ $((k % 5)) = 0 ]; then
        # Right after the clients were answered: what they hold must
        # have been durable before the answer.
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    else
        # A moment somewhere between "nothing arrived yet" and "answered".
        sleep "0.$(printf '%03d' $((RANDOM % 600)))"
    fi
    scepd_kill9
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
done
say "$KILLS kills survived; checking what the clients received"
scepd_start crash
for c in "$IT_WORK"/got/*.crt; do
    [ -s "$c" ] || continue
    check_stored "$c"
    received=$((received + 1))
done
say "$received certificates received, each in the store"
[ "$received" -gt 0 ] || fail "no enrollment finished between the kills: the test proves nothing"
[ "$(store_sql "SELECT count(*) FROM (SELECT serial FROM certificates GROUP BY serial HAVING count(*) > 1)")" = 0 ] ||
    fail "a serial is stored twice"
[ "$(store_sql "SELECT count(*) FROM (SELECT transaction_id FROM certificates WHERE transaction_id IS NOT NULL GROUP BY transaction_id HAVING count(*) > 1)")" = 0 ] ||
    fail "a transactionID has two certificates"
[ "$(store_sql "PRAGMA integrity_check")" = ok ] || fail "integrity_check: $(store_sql "PRAGMA integrity_check")"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null 2>"$IT_WORK/verify.err" ||
    fail "the audit chain does not verify: $(cat "$IT_WORK/verify.err")"
stored=$(store_sql "SELECT count(*) FROM certificates")
say "$stored certificates stored in all ($received received; the rest were issued as the kill came)"
scepd_stop
