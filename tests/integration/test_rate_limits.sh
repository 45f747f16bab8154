#!/usr/bin/env bash
# Rate limits: an address over its limit gets 429 with Retry-After
# before any private-key operation is spent (the CA's private-key
# operation counter does not move for those requests), and a challenge
# over its limit gets 429 after the envelope's decryption but before
# anything is signed.  Both are counted in /metrics and audited.
. "$(dirname "$0")/lib.sh"
need pki openssl curl sqlite3

# metric NAME: its value in /metrics (the first sample of that name).
metric() {
    curl -fsS "$BASE/metrics" >"$IT_WORK/m.txt"
    awk -v n="$1" '$1 == n { print $2; exit }' "$IT_WORK/m.txt"
}
# enroll KEY DN [CHALLENGE]: pki --scep at the default profile.
enroll() {
    pki --scep --url "$SCEPD_URL" --in "$1" --dn "$2" --password "${3:-$IT_CHALLENGE}" \
        --cacert-enc "$IT_WORK/ca/enc.der" --cacert-sig "$IT_WORK/ca/sig.der" \
        --cacert "$IT_WORK/ca/ca.pem" --cipher aes --digest sha256 \
        --interval 1 --maxpolltime 5 --outform pem >"$IT_WORK/out.pem" 2>"$IT_WORK/out.log"
}
KEYOPS=scepd_ca_private_key_operations_total

scepd_start addr --rate-address-per-minute 1 --rate-address-burst 2 --workers 2
BASE=${SCEPD_URL%/scep}
fetch_ca_certs "$IT_WORK/ca"
for i in 1 2 3 4 5; do rsa_key "$IT_WORK/k$i.pem"; done

say "two enrollments within the burst are issued"
enroll "$IT_WORK/k1.pem" "CN=one" || fail "first enrollment: $(tail -n 2 "$SCEPD_LOG")"
enroll "$IT_WORK/k2.pem" "CN=two" || fail "second enrollment: $(tail -n 2 "$SCEPD_LOG")"
before=$(metric "$KEYOPS")
[ "${before:-0}" -ge 4 ] || fail "$KEYOPS is '$before' after two enrollments (want >= 4)"

say "over the limit: 429 with Retry-After, and no private-key work"
for i in 3 4 5; do
    enroll "$IT_WORK/k$i.pem" "CN=limited$i" && fail "enrollment $i over the address limit was issued"
done
curl -s -D "$IT_WORK/h.txt" -o "$IT_WORK/body.txt" --data-binary @"$IT_WORK/ca/enc.der" \
    "$SCEPD_URL?operation=PKIOperation" >/dev/null
head -n 1 "$IT_WORK/h.txt" | grep -q ' 429' || fail "want HTTP 429, got: $(head -n 1 "$IT_WORK/h.txt")"
ra=$(awk 'tolower($1) == "retry-after:" { print $2 }' "$IT_WORK/h.txt" | tr -d '\r')
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || fail "Retry-After '$ra' (want 1..60)"
after=$(metric "$KEYOPS")
[ "$after" = "$before" ] || fail "$KEYOPS moved from $before to $after for rate-limited requests"
[ "$(store_sql "SELECT count(*) FROM certificates")" = 2 ] || fail "a rate-limited request was stored"
n=$(metric 'scepd_rate_limited_total{limit="address"}')
[ "${n:-0}" -ge 4 ] || fail "scepd_rate_limited_total{limit=\"address\"} is '$n' (want >= 4)"
[ "$(store_sql "SELECT count(*) FROM audit WHERE kind = 'rate-limited'")" -ge 1 ] ||
    fail "no rate-limited audit event"
say "GetCACaps is not limited"
curl -fsS "$SCEPD_URL?operation=GetCACaps" >/dev/null || fail "GetCACaps refused under the address limit"
scepd_stop

scepd_start chal --rate-challenge-per-minute 1 --rate-challenge-burst 1
BASE=${SCEPD_URL%/scep}
fetch_ca_certs "$IT_WORK/ca"
say "a challenge over its limit: 429 once the envelope is opened, nothing signed"
enroll "$IT_WORK/k1.pem" "CN=first" || fail "first enrollment with the challenge: $(tail -n 2 "$SCEPD_LOG")"
before=$(metric "$KEYOPS")
enroll "$IT_WORK/k2.pem" "CN=second" && fail "a second enrollment with a challenge limited to 1 was issued"
after=$(metric "$KEYOPS")
[ "$after" = $((before + 1)) ] ||
    fail "$KEYOPS went from $before to $after for a challenge-limited request (want one decryption only)"
grep -q 'status=429' "$SCEPD_LOG" || fail "no status=429 line in scepd's log"
n=$(metric 'scepd_rate_limited_total{limit="challenge"}')
[ "${n:-0}" = 1 ] || fail "scepd_rate_limited_total{limit=\"challenge\"} is '$n' (want 1)"
say "another challenge is not limited by it"
"$SCEPCTL" --state-dir "$SCEPD_STATE" challenge new >"$IT_WORK/otp" 2>/dev/null || fail "challenge new failed"
enroll "$IT_WORK/k3.pem" "CN=third" "$(cat "$IT_WORK/otp")" || fail "a one-time challenge was limited too"
scepd_stop
