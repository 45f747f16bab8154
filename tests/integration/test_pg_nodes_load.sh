#!/usr/bin/env bash
# Two scepd nodes on one PostgreSQL database (pg.sh starts and stops the
# server) under load and failure, with the same CA key files on each:
#   - a one-use challenge raced by 20 strongSwan enrollments at once,
#     10 on each node: exactly one certificate, 19 "already used";
#   - 500 enrollments (bench/scep_load, every CertRep verified down to
#     the certificate), 250 on each node at once: 500 distinct serials,
#     each stored, and the audit chain verifies;
#   - the CRL is made once and served by both nodes (the same bytes, the
#     number in the crls table); a revocation through node A is in node
#     B's /crl and its OCSP answer within seconds;
#   - kill -9 of node A while both are under load: every enrollment of B
#     succeeds, every certificate a client received is stored, and A
#     serves again after a restart;
#   - PostgreSQL stopped under load: the nodes answer 503 (none 500),
#     nothing a client received is lost, and both recover by themselves
#     when it returns;
#   - a rollover scheduled on A, its next CA copied to B and SIGHUP to
#     both: at activate-at both answer GetCACert with the new CA and
#     issue under it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
need pki openssl curl
[ -x "${SCEP_LOAD:-}" ] || fail "SCEP_LOAD does not name bench/scep_load"

pg_start

say "node A creates the CA; node B gets a copy of its key files"
"$SCEPCTL" --state-dir "$IT_WORK/a" init --rsa-bits 2048 --subject "CN=pg load CA" >/dev/null ||
    fail "scepctl init failed"
cp -a "$IT_WORK/a" "$IT_WORK/b"
for n in a b; do pg_node_start "$n"; done
for n in a b; do pg_node_wait "$n"; done
ctl() { "$SCEPCTL" --state-dir "$IT_WORK/a" --database "$PG_URI" "$@"; }
SCEPD_STATE=$IT_WORK/a
SCEPD_URL=$URL_a
fetch_ca_certs "$IT_WORK/ca"

# load NAME URL THREADS EACH: scep_load in the background, serials of
# what it received in $IT_WORK/NAME.serials, its report in NAME.out.
load() {
    : >"$IT_WORK/$1.serials"
    "$SCEP_LOAD" --url "$2" --challenge "$IT_CHALLENGE" --threads "$3" --requests "$4" \
        --label "$1" --serials "$IT_WORK/$1.serials" >"$IT_WORK/$1.out" 2>&1 &
    LOAD_PID=$!
}
# result NAME KEY: a value of the RESULT line of load NAME.
result() { sed -n "s/^RESULT .* $2=\([^ ]*\).*/\1/p" "$IT_WORK/$1.out"; }
# all_stored FILE...: every serial in the files is a certificate in PostgreSQL.
all_stored() {
    local want got
    want=$(cat "$@" | sort -u | wc -l)
    got=$(cat "$@" | sort -u | sed "s/.*/'&'/" | paste -sd, |
        { read -r list; [ -z "$list" ] && echo 0 || pg_sql "SELECT count(*) FROM certificates WHERE serial IN ($list)"; })
    [ "$got" = "$want" ] || fail "$got of the $want certificates clients received are stored"
}

say "a one-use challenge raced by 20 enrollments, 10 on each node"
OTP=$(ctl challenge new --uses 1 --ttl 10m 2>"$IT_WORK/otp.err") ||
    fail "challenge new: $(cat "$IT_WORK/otp.err")"
for i in $(seq 1 20); do rsa_key "$IT_WORK/r$i.pem"; done
pids=()
for i in $(seq 1 20); do
    if [ $((i % 2)) -eq 1 ]; then SCEPD_URL=$URL_a; else SCEPD_URL=$URL_b; fi
    sw_enroll "$IT_WORK/r$i.pem" "$IT_WORK/r$i.crt" "$IT_WORK/ca" aes sha256 "CN=race$i" \
        --password "$OTP" &
    pids+=("$!")
done
race_wait "${pids[@]}"
won=$RACE_WON winner=$RACE_WINNER
[ "$won" = 1 ] || fail "$won of 20 enrollments with one one-use challenge succeeded (want 1)"
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE subject LIKE 'CN=race%'")" = 1 ] ||
    fail "$(pg_sql "SELECT count(*) FROM certificates WHERE subject LIKE 'CN=race%'") certificates for one one-use challenge"
used=$(cat "$IT_WORK/a.scepd.log" "$IT_WORK/b.scepd.log" | grep -c 'one-time challenge already used' || true)
[ "$used" = 19 ] || fail "$used refusals with 'one-time challenge already used' (want 19)"
say "race won by client $winner (node $([ $((winner % 2)) -eq 1 ] && echo A || echo B))"

say "500 enrollments, 250 on each node at once"
load la "$URL_a" 5 50
pa=$LOAD_PID
load lb "$URL_b" 5 50
pb=$LOAD_PID
wait "$pa" || fail "scep_load on A: $(tail -n 3 "$IT_WORK/la.out")"
wait "$pb" || fail "scep_load on B: $(tail -n 3 "$IT_WORK/lb.out")"
[ "$(cat "$IT_WORK/la.serials" "$IT_WORK/lb.serials" | sort -u | wc -l)" = 500 ] ||
    fail "$(cat "$IT_WORK/la.serials" "$IT_WORK/lb.serials" | sort -u | wc -l) distinct serials received (want 500)"
all_stored "$IT_WORK/la.serials" "$IT_WORK/lb.serials"
say "A: $(result la rate)/s, B: $(result lb rate)/s"
ctl audit --verify >/dev/null 2>"$IT_WORK/verify.err" || fail "audit --verify: $(cat "$IT_WORK/verify.err")"

say "one CRL, made once, served by both; a revocation on A reaches B's CRL and OCSP"
curl -sSf -o "$IT_WORK/crl-a.der" "$BASE_a/crl" || fail "GET /crl on A failed"
curl -sSf -o "$IT_WORK/crl-b.der" "$BASE_b/crl" || fail "GET /crl on B failed"
cmp -s "$IT_WORK/crl-a.der" "$IT_WORK/crl-b.der" || fail "the nodes serve different CRLs"
num=$(openssl crl -inform DER -in "$IT_WORK/crl-a.der" -noout -crlnumber | sed 's/.*=//')
[ "$(pg_sql "SELECT number FROM crls")" = "$((num))" ] ||
    fail "the crls table holds number $(pg_sql "SELECT number FROM crls"), the nodes serve $num"
victim=$IT_WORK/r$winner.crt
serial=$(cert_serial "$victim")
ctl revoke "$serial" --reason keyCompromise >/dev/null 2>"$IT_WORK/revoke.err" ||
    fail "revoke on A: $(cat "$IT_WORK/revoke.err")"
t0=$(date +%s)
for i in $(seq 1 100); do
    curl -sSf -o "$IT_WORK/crl-b2.der" "$BASE_b/crl" || fail "GET /crl on B failed"
    out=$(openssl crl -inform DER -in "$IT_WORK/crl-b2.der" -noout -text)
    case $out in *"Serial Number: $serial"*) break ;; esac
    sleep 0.2
done
case $out in *"Serial Number: $serial"*) ;; *) fail "B's CRL lacks $serial 20 s after the revocation" ;; esac
say "in B's CRL after $(($(date +%s) - t0)) s"
out=$(openssl ocsp -issuer "$IT_WORK/ca/ca.pem" -CAfile "$IT_WORK/ca/ca.pem" -cert "$victim" \
    -url "$BASE_b/ocsp" 2>&1) || fail "openssl ocsp against B: $out"
case $out in *": revoked"*"keyCompromise"*) ;; *) fail "B's OCSP answer is not revoked/keyCompromise: $out" ;; esac
case $out in *"Response verify OK"*) ;; *) fail "B's OCSP answer does not verify: $out" ;; esac
curl -sSf -o "$IT_WORK/crl-a2.der" "$BASE_a/crl" || fail "GET /crl on A failed"
cmp -s "$IT_WORK/crl-a2.der" "$IT_WORK/crl-b2.der" || {
    sleep 6 # a worker keeps a CRL for 5 s
    curl -sSf -o "$IT_WORK/crl-a2.der" "$BASE_a/crl"
    curl -sSf -o "$IT_WORK/crl-b2.der" "$BASE_b/crl"
    cmp -s "$IT_WORK/crl-a2.der" "$IT_WORK/crl-b2.der" || fail "the nodes serve different CRLs after the revocation"
}
[ "$(pg_sql "SELECT count(*) FROM crls")" = 1 ] || fail "more than one CRL row for one CA"

say "kill -9 of node A under load: B serves on, nothing received is lost"
load ka "$URL_a" 2 150
pa=$LOAD_PID
load kb "$URL_b" 2 25
pb=$LOAD_PID
for i in $(seq 1 100); do
    [ "$(wc -l <"$IT_WORK/ka.serials")" -ge 10 ] && break
    sleep 0.1
done
kill -KILL "$PID_a"
wait "$PID_a" 2>/dev/null || true
wait "$pa" && fail "every enrollment on A succeeded although A was killed"
wait "$pb" || fail "enrollments on B failed while A was killed: $(tail -n 3 "$IT_WORK/kb.out")"
say "A: $(wc -l <"$IT_WORK/ka.serials") received before the kill; B: $(result kb requests) of 50 all issued"
all_stored "$IT_WORK/ka.serials" "$IT_WORK/kb.serials"
pg_node_start a
pg_node_wait a
load ra "$URL_a" 1 5
wait "$LOAD_PID" || fail "A does not enroll after its restart: $(tail -n 3 "$IT_WORK/ra.out")"
all_stored "$IT_WORK/ra.serials"

say "PostgreSQL stopped under load: 503, nothing lost, recovery without a restart"
load pa "$URL_a" 2 100
pa=$LOAD_PID
load pb "$URL_b" 2 100
pb=$LOAD_PID
for i in $(seq 1 100); do
    [ "$(cat "$IT_WORK/pa.serials" "$IT_WORK/pb.serials" | wc -l)" -ge 10 ] && break
    sleep 0.1
done
pg_server_down || fail "cannot stop PostgreSQL"
sleep 1
for n in a b; do
    eval "base=\$BASE_$n"
    h=$(curl -sS -o /dev/null -w '%{http_code}' "$base/healthz" || true)
    [ "$h" = 503 ] || fail "/healthz of node $n with the database down: HTTP $h (want 503)"
done
sleep 2
pg_server_up || fail "cannot start PostgreSQL again: $(tail -n 5 "$PG_DIR/log")"
wait "$pa" || true
wait "$pb" || true
n503=$(($(result pa http503) + $(result pb http503)))
n5xx=$(($(result pa http5xx) + $(result pb http5xx)))
[ "$n503" -gt 0 ] || fail "no client was answered 503 while the database was down"
[ "$n5xx" = 0 ] || fail "$n5xx answers with a 5xx other than 503 during the outage"
say "during the outage: $n503 answered 503; $(cat "$IT_WORK/pa.serials" "$IT_WORK/pb.serials" | wc -l) issued around it"
all_stored "$IT_WORK/pa.serials" "$IT_WORK/pb.serials"
for n in a b; do
    eval "url=\$URL_$n"
    ok=
    for i in $(seq 1 20); do
        load "rec$n" "$url" 1 3
        if wait "$LOAD_PID"; then ok=1; break; fi
        sleep 0.5
    done
    [ -n "$ok" ] || fail "node $n does not enroll 10 s after the database's return: $(tail -n 3 "$IT_WORK/rec$n.out")"
    all_stored "$IT_WORK/rec$n.serials"
done
ctl audit --verify >/dev/null 2>"$IT_WORK/verify.err" || fail "audit --verify: $(cat "$IT_WORK/verify.err")"
issued=$(pg_sql "SELECT count(*) FROM certificates")
events=$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'issue'")
[ "$issued" = "$events" ] || fail "$issued certificates but $events issue events"

say "a rollover scheduled on A and copied to B: both switch at activate-at"
at=$(($(date +%s) + 8))
ctl ca rollover --activate-at "$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)" >"$IT_WORK/roll.out" 2>&1 ||
    fail "ca rollover: $(cat "$IT_WORK/roll.out")"
rm -rf "$IT_WORK/b/next"
cp -a "$IT_WORK/a/next" "$IT_WORK/b/next"
kill -HUP "$PID_a" "$PID_b"
openssl x509 -in "$IT_WORK/a/next/ca.crt" -outform DER -out "$IT_WORK/next.der"
for n in a b; do
    eval "url=\$URL_$n"
    for i in $(seq 1 300); do
        curl -sS -o "$IT_WORK/cur-$n.der" "$url?operation=GetCACert"
        cmp -s "$IT_WORK/cur-$n.der" "$IT_WORK/next.der" && break
        sleep 0.1
    done
    cmp -s "$IT_WORK/cur-$n.der" "$IT_WORK/next.der" || fail "node $n answers the old CA after activate-at"
    [ "$(date +%s)" -ge "$at" ] || fail "node $n switched before activate-at"
done
for n in a b; do
    eval "SCEPD_URL=\$URL_$n"
    fetch_ca_certs "$IT_WORK/ca2-$n"
    rsa_key "$IT_WORK/n$n.pem"
    sw_enroll "$IT_WORK/n$n.pem" "$IT_WORK/n$n.crt" "$IT_WORK/ca2-$n" aes sha256 "CN=after-$n" \
        --password "$IT_CHALLENGE" || fail "enrollment on $n after the rollover: $(tail -n 3 "$IT_WORK/n$n.crt.log")"
    check_verifies "$IT_WORK/n$n.crt" "$IT_WORK/a/ca.crt"
done
say "both nodes issue under the new CA"
