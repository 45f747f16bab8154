#!/usr/bin/env bash
# One-time challenges (scepctl challenge new) at a profile that takes
# nothing else: a one-use challenge raced by 20 concurrent strongSwan
# enrollments issues exactly one certificate, the 19 others are refused
# with "already used"; the winner sending its transaction again gets the
# same certificate back; an expired, a revoked, another profile's and a
# bound challenge used for another name are each refused with their own
# text.  The store holds only the challenges' hashes.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl

cat >"$IT_WORK/scepd.conf" <<CONF
[profile wifi]
ext_key_usage = clientAuth

[profile vpn]
ext_key_usage = serverAuth,clientAuth
CONF
scepd_start otp --config "$IT_WORK/scepd.conf" --workers 2
fetch_ca_certs "$IT_WORK/ca"
WIFI=$SCEPD_URL/wifi
ctl() { "$SCEPCTL" --state-dir "$SCEPD_STATE" "$@"; }

# otp_enroll KEY OUT DN CHALLENGE [URL]: pki --scep at the wifi profile.
otp_enroll() {
    pki --scep --url "${5:-$WIFI}" --in "$1" --dn "$3" --password "$4" \
        --cacert-enc "$IT_WORK/ca/enc.der" --cacert-sig "$IT_WORK/ca/sig.der" \
        --cacert "$IT_WORK/ca/ca.pem" --cipher aes --digest sha256 \
        --interval 1 --maxpolltime 5 --outform pem >"$2" 2>"$2.log"
}

say "the profile takes no static challenge: the default one is refused"
rsa_key "$IT_WORK/k0.pem"
otp_enroll "$IT_WORK/k0.pem" "$IT_WORK/c0.pem" "CN=static" "$IT_CHALLENGE" &&
    fail "the wifi profile accepted the default profile's static challenge"
grep -q 'challenge password wrong or unknown' "$SCEPD_LOG" ||
    fail "no 'challenge password wrong or unknown' refusal in the log"

say "minting prints the challenge alone on stdout"
OTP=$(ctl challenge new --profile wifi --uses 1 --ttl 10m 2>"$IT_WORK/new.err")
[ "$(printf '%s\n' "$OTP" | wc -l)" = 1 ] && [ ${#OTP} -ge 16 ] ||
    fail "challenge new printed '$OTP'"
hash=$(printf '%s' "$OTP" | sha256sum | cut -d' ' -f1)
[ "$(store_sql "SELECT count(*) FROM challenges WHERE hash = '$hash'")" = 1 ] ||
    fail "the store holds no challenge with the SHA-256 of the one printed"
grep -aq -- "$OTP" "$SCEPD_STATE/scepd.db" "$SCEPD_STATE"/scepd.db-wal 2>/dev/null &&
    fail "the challenge text itself is in the database"

say "20 concurrent enrollments with one one-use challenge"
for i in $(seq 1 20); do rsa_key "$IT_WORK/r$i.pem"; done
pids=()
for i in $(seq 1 20); do
    otp_enroll "$IT_WORK/r$i.pem" "$IT_WORK/r$i.crt" "CN=race$i" "$OTP" &
    pids+=("$!")
done
race_wait "${pids[@]}"
won=$RACE_WON winner=$RACE_WINNER
[ "$won" = 1 ] || fail "$won of 20 enrollments with one one-use challenge succeeded (want 1)"
n=$(store_sql "SELECT count(*) FROM certificates WHERE subject LIKE 'CN=race%'")
[ "$n" = 1 ] || fail "$n certificates stored for the race (want 1)"
n=$(grep -c 'one-time challenge already used' "$SCEPD_LOG" || true)
[ "$n" = 19 ] || fail "$n refusals with 'one-time challenge already used' (want 19)"

say "the winner's retry of its transaction returns the same certificate"
otp_enroll "$IT_WORK/r$winner.pem" "$IT_WORK/retry.crt" "CN=race$winner" "$OTP" ||
    fail "the winner's retry was refused: $(grep -E 'FAILURE|failInfo' "$IT_WORK/retry.crt.log" | head -n 2)"
cmp -s <(openssl x509 -in "$IT_WORK/r$winner.crt" -outform DER) \
       <(openssl x509 -in "$IT_WORK/retry.crt" -outform DER) ||
    fail "the retry returned another certificate"
n=$(store_sql "SELECT count(*) FROM certificates WHERE subject LIKE 'CN=race%'")
[ "$n" = 1 ] || fail "the retry stored another certificate ($n)"

say "an expired challenge is refused as expired"
EXP=$(ctl challenge new --profile wifi --ttl 1s 2>/dev/null)
sleep 2
rsa_key "$IT_WORK/ke.pem"
otp_enroll "$IT_WORK/ke.pem" "$IT_WORK/ce.pem" "CN=late" "$EXP" && fail "an expired challenge was accepted"
grep -q 'one-time challenge expired' "$SCEPD_LOG" || fail "no 'one-time challenge expired' refusal"

say "another profile's challenge is refused as such"
VPN=$(ctl challenge new --profile vpn 2>/dev/null)
rsa_key "$IT_WORK/kv.pem"
otp_enroll "$IT_WORK/kv.pem" "$IT_WORK/cv.pem" "CN=wrongprofile" "$VPN" &&
    fail "a vpn challenge was accepted at the wifi profile"
grep -q 'one-time challenge is for another profile' "$SCEPD_LOG" ||
    fail "no 'one-time challenge is for another profile' refusal"
say "... and accepted at its own profile"
otp_enroll "$IT_WORK/kv.pem" "$IT_WORK/cv2.pem" "CN=rightprofile" "$VPN" "$SCEPD_URL/vpn" ||
    fail "the vpn challenge was refused at the vpn profile: $(tail -n 3 "$SCEPD_LOG")"
openssl x509 -in "$IT_WORK/cv2.pem" -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication' ||
    fail "the vpn certificate lacks the vpn profile's serverAuth"

say "a revoked challenge is refused as revoked"
REV=$(ctl challenge new --profile wifi --json 2>/dev/null)
rev_otp=$(printf '%s' "$REV" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])')
rev_id=$(printf '%s' "$REV" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
ctl challenge revoke "$rev_id" >/dev/null 2>&1 || fail "challenge revoke $rev_id failed"
rsa_key "$IT_WORK/kr.pem"
otp_enroll "$IT_WORK/kr.pem" "$IT_WORK/cr.pem" "CN=revoked" "$rev_otp" && fail "a revoked challenge was accepted"
grep -q 'one-time challenge was revoked' "$SCEPD_LOG" || fail "no 'one-time challenge was revoked' refusal"

say "a bound challenge: another subject is refused, the bound one issued"
BOUND=$(ctl challenge new --profile wifi --subject "CN=bound.example" 2>/dev/null)
rsa_key "$IT_WORK/kb.pem"
otp_enroll "$IT_WORK/kb.pem" "$IT_WORK/cb.pem" "CN=other.example" "$BOUND" &&
    fail "a challenge bound to CN=bound.example issued CN=other.example"
grep -q 'challenge is bound to' "$SCEPD_LOG" || fail "no 'challenge is bound to' refusal"
rsa_key "$IT_WORK/kb2.pem"
otp_enroll "$IT_WORK/kb2.pem" "$IT_WORK/cb2.pem" "CN=bound.example" "$BOUND" ||
    fail "the bound subject was refused: $(tail -n 2 "$SCEPD_LOG")"

say "the issue events name the profile and the one-time challenge"
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'issue' AND detail LIKE '%profile=wifi via=one-time challenge=%'")
[ "$n" = 2 ] || fail "$n issue events at wifi by one-time challenge (want 2)"
[ "$(store_sql "SELECT count(*) FROM certificates WHERE challenge_id IS NOT NULL")" = 3 ] ||
    fail "certificates do not record the challenge that authorised them"
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'challenge-use' AND transaction_id IS NOT NULL")
[ "$n" = 3 ] || fail "$n challenge-use audit events (want 3: one per certificate a one-time challenge admitted)"
ctl audit --verify >/dev/null 2>&1 || fail "the audit chain does not verify"
scepd_stop

say "scepd purges what can admit nobody (here: the revoked one) when it starts, and hourly"
[ "$(store_sql "SELECT count(*) FROM challenges WHERE id = $rev_id")" = 1 ] ||
    fail "the revoked challenge is gone before any purge"
scepd_start otp --config "$IT_WORK/scepd.conf" --workers 1
grep -q 'msg=challenges-purged count=1' "$SCEPD_LOG" || fail "no challenges-purged count=1 in the log"
[ "$(store_sql "SELECT count(*) FROM challenges WHERE id = $rev_id")" = 0 ] ||
    fail "the revoked challenge was not purged"
n=$(store_sql "SELECT count(*) FROM challenges WHERE hash = '$hash'")
[ "$n" = 1 ] || fail "the used-up race challenge was purged before it expired ($n)"
scepd_stop
