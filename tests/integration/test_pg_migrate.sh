#!/usr/bin/env bash
# scepctl migrate: a single node's SQLite store, filled by real
# enrollments, moved into PostgreSQL (a server this test starts, pg.sh),
# and scepd carrying on there with the same state directory:
#   - the SQLite store gets enrollments (scepc), a renewal (supersession),
#     a revocation, a CRL, a one-time challenge with one of two uses
#     spent, a request held for approval, an imported certificate, an
#     API token;
#   - migrate copies every row (same serials, DER, ids, hashes), reports
#     the counts, records a "migrate" audit event, and scepctl audit
#     --verify passes on PostgreSQL; the audit chain is the source's,
#     hash for hash, plus that event;
#   - a second migrate into the now non-empty database is refused and
#     writes nothing; a source whose audit chain was tampered with is
#     refused;
#   - scepd on PostgreSQL: the held request is approved and picked up,
#     the challenge's second use admits one enrollment and its third
#     none, a certificate issued on SQLite renews, new CRLs number above
#     the SQLite ones, the revocation is in the CRL and the OCSP answer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
: "${SCEPC:?SCEPC must name the scepc executable}"
need openssl curl sqlite3

pg_start
cd "$IT_WORK"

say "a CA, and scepd on SQLite"
"$SCEPCTL" --state-dir "$IT_WORK/s" init --rsa-bits 2048 --subject "CN=migrate CA" >/dev/null ||
    fail "scepctl init failed"
ctl() { "$SCEPCTL" --state-dir "$IT_WORK/s" "$@"; }
pgctl() { "$SCEPCTL" --state-dir "$IT_WORK/s" --database "$PG_URI" "$@"; }
scepd_start s
"$SCEPC" cacert --url "$SCEPD_URL" --out ca.pem >/dev/null 2>&1 || fail "scepc cacert failed"
FP=$(openssl x509 -in ca.pem -noout -fingerprint -sha256 | sed 's/.*=//')
enroll() { # NAME [challenge]: scepc enroll against $SCEPD_URL
    "$SCEPC" enroll --url "$SCEPD_URL" --fingerprint "$FP" --challenge "${2:-$IT_CHALLENGE}" \
        --subject "CN=$1,O=Migrate" --san "DNS:$1.example" --key "$1.key" --cert "$1.crt" \
        >"$1.log" 2>&1
}
for i in 1 2 3 4 5 6; do enroll "dev$i" || fail "enrollment dev$i failed: $(tail -n 3 "dev$i.log")"; done
cp dev2.crt dev2-old.crt
"$SCEPC" renew --url "$SCEPD_URL" --fingerprint "$FP" --key dev2.key --cert dev2.crt >renew.log 2>&1 ||
    fail "renewal on SQLite failed: $(tail -n 3 renew.log)"
s_rev=$(cert_serial dev3.crt)
ctl revoke "$s_rev" --reason keyCompromise >/dev/null || fail "revoke on SQLite failed"
ctl crl --out s1.crl >/dev/null && ctl crl --out s2.crl >/dev/null || fail "crl on SQLite failed"
crlnum() { echo $(($(openssl crl -in "$1" -noout -crlnumber | sed 's/.*=//'))); }
s_crl=$(crlnum s2.crl)

say "a one-time challenge with one of two uses spent"
ctl challenge new --uses 2 --ttl 1h --json >chal.json || fail "challenge new failed"
OTC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["challenge"])' chal.json)
enroll otc1 "$OTC" || fail "the one-time challenge's first use failed: $(tail -n 3 otc1.log)"

say "an imported certificate and an API token"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ext.key -out ext.crt -days 30 \
    -subj "/CN=external.example" >/dev/null 2>&1 || fail "openssl req failed"
ctl import ext.crt >/dev/null || fail "scepctl import failed"
ctl token new --name ops --role operator >token.out || fail "token new failed"

say "a request held for approval"
scepd_stop
scepd_start s --approval manual
rc=0
"$SCEPC" enroll --url "$SCEPD_URL" --fingerprint "$FP" --challenge "$IT_CHALLENGE" \
    --subject "CN=held,O=Migrate" --key held.key --cert held.crt --max-wait 1 --poll-interval 1 \
    >held.log 2>&1 || rc=$?
[ "$rc" = 7 ] || fail "the held enrollment ended with $rc (want 7, still pending): $(tail -n 3 held.log)"
scepd_stop
SQ=$IT_WORK/s/scepd.db
sq() { sqlite3 -batch -noheader "$SQ" "$1"; }
[ "$(sq 'SELECT count(*) FROM requests WHERE status = 0')" = 1 ] || fail "no pending request in SQLite"

say "a source with a tampered audit chain is refused"
cp "$SQ" bad.db
sqlite3 bad.db "UPDATE audit SET detail = 'edited' WHERE id = 2" || fail "cannot tamper"
rc=0
ctl migrate --from sqlite:bad.db --to "$PG_URI" >bad.out 2>bad.err || rc=$?
[ "$rc" = 1 ] || fail "migrate of a tampered store exited $rc (want 1)"
grep -q "audit chain is broken at event 2" bad.err || fail "migrate did not say where the chain broke: $(cat bad.err)"
[ "$(pg_sql 'SELECT count(*) FROM certificates')" = 0 ] || fail "a refused migrate wrote certificates"

say "migrate SQLite -> PostgreSQL"
for t in certificates requests challenges notices tokens audit; do
    eval "want_$t=\$(sq 'SELECT count(*) FROM $t')"
done
ctl migrate --from "sqlite:$SQ" --to "$PG_URI" --json >mig.json 2>mig.err ||
    fail "migrate failed: $(cat mig.err)"
python3 - mig.json "$want_certificates" "$want_requests" "$want_challenges" "$want_tokens" \
    "$want_audit" <<'PY' || fail "migrate reported other counts: $(cat mig.json)"
import json, sys
r = json.load(open(sys.argv[1]))
c = r["rows"]
assert r["audit_intact"] is True
assert [c["certificates"], c["requests"], c["challenges"], c["tokens"], c["audit"]] == \
    [int(x) for x in sys.argv[2:7]], c
assert "***" not in r["to"] and r["to"].startswith("postgresql://")
PY
for t in certificates requests challenges notices tokens; do
    eval "w=\$want_$t"
    [ "$(pg_sql "SELECT count(*) FROM $t")" = "$w" ] || fail "$t: $(pg_sql "SELECT count(*) FROM $t") rows in PostgreSQL (want $w)"
done
[ "$(pg_sql 'SELECT count(*) FROM audit')" = $((want_audit + 1)) ] || fail "audit: not the source's events plus one"
[ "$(pg_sql "SELECT kind FROM audit ORDER BY id DESC LIMIT 1")" = migrate ] || fail "no migrate audit event last"

say "every row as it was: DER, hashes, ids, supersession, the challenge's uses"
# One line per row over the columns both stores hold, hex for binary.
dump_sq() {
    sq "SELECT serial, hex(der), status, revoked_at, revocation_reason, coalesce(superseded_by, ''),
               superseded_at, source, coalesce(fingerprint, ''), coalesce(challenge_id, 0), profile
        FROM certificates ORDER BY serial"
    sq "SELECT id, time, kind, coalesce(serial, ''), prev_hash, hash FROM audit ORDER BY id"
    sq "SELECT id, hash, uses, max_uses, expires_at FROM challenges ORDER BY id"
    sq "SELECT id, transaction_id, status, hex(csr) FROM requests ORDER BY id"
    sq "SELECT id, name, role, hash FROM tokens ORDER BY id"
}
dump_pg() {
    pg_sql "SELECT serial || '|' || upper(encode(der, 'hex')) || '|' || status || '|' || revoked_at
                   || '|' || revocation_reason || '|' || coalesce(superseded_by, '') || '|'
                   || superseded_at || '|' || source || '|' || coalesce(fingerprint, '') || '|'
                   || coalesce(challenge_id, 0) || '|' || profile
            FROM certificates ORDER BY serial"
    pg_sql "SELECT id || '|' || time || '|' || kind || '|' || coalesce(serial, '') || '|' || prev_hash
                   || '|' || hash FROM audit WHERE kind <> 'migrate' ORDER BY id"
    pg_sql "SELECT id || '|' || hash || '|' || uses || '|' || max_uses || '|' || expires_at
            FROM challenges ORDER BY id"
    pg_sql "SELECT id || '|' || transaction_id || '|' || status || '|' || upper(encode(csr, 'hex'))
            FROM requests ORDER BY id"
    pg_sql "SELECT id || '|' || name || '|' || role || '|' || hash FROM tokens ORDER BY id"
}
dump_sq >sq.dump
dump_pg >pg.dump
cmp -s sq.dump pg.dump || fail "the rows differ: $(diff sq.dump pg.dump | head -n 5)"
[ "$(pg_sql "SELECT superseded_by FROM certificates WHERE serial = '$(cert_serial dev2-old.crt)'")" = \
    "$(cert_serial dev2.crt)" ] || fail "the renewed certificate lost its supersession"
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE source = 'import'")" = 1 ] || fail "the import is not external"

say "scepctl against PostgreSQL: list, audit --verify, token list"
pgctl audit --verify >verify.out 2>&1 || fail "audit --verify on PostgreSQL failed: $(cat verify.out)"
pgctl list --status all --json >list.json || fail "list on PostgreSQL failed"
python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' list.json >list.n
[ "$(cat list.n)" = "$want_certificates" ] || fail "list shows $(cat list.n) certificates (want $want_certificates)"
pgctl list --status revoked --json >revoked.json || fail "list --status revoked failed"
grep -q "$s_rev" revoked.json || fail "the revocation is not listed on PostgreSQL"
pgctl token list >tokens.out || fail "token list failed"
grep -q ops tokens.out || fail "the token is not on PostgreSQL"

say "a second migrate into the non-empty database is refused and changes nothing"
before=$(pg_sql 'SELECT count(*) FROM audit')
rc=0
ctl migrate --from "sqlite:$SQ" --to "$PG_URI" >again.out 2>again.err || rc=$?
[ "$rc" = 1 ] || fail "migrate into a non-empty database exited $rc (want 1)"
grep -q "is not empty" again.err || fail "the refusal does not say why: $(cat again.err)"
[ "$(pg_sql 'SELECT count(*) FROM audit')" = "$before" ] || fail "the refused migrate wrote audit events"
rc=0
ctl migrate --from "sqlite:$SQ" >usage.out 2>usage.err || rc=$?
[ "$rc" = 2 ] || fail "migrate without --to exited $rc (want 2)"

say "scepd on PostgreSQL with the same state directory carries on"
SCEPD_LOG=$IT_WORK/p.scepd.log
scepd_start s --database "$PG_URI"
pgctl approve "$(pg_sql "SELECT id FROM requests WHERE status = 0")" >/dev/null ||
    fail "approve on PostgreSQL failed"
"$SCEPC" poll --url "$SCEPD_URL" --fingerprint "$FP" --subject "CN=held,O=Migrate" --key held.key \
    --cert held.crt --max-wait 20 --poll-interval 1 >poll.log 2>&1 ||
    fail "picking up the approved request failed: $(tail -n 3 poll.log)"
openssl verify -CAfile ca.pem held.crt >/dev/null 2>&1 || fail "the approved certificate does not verify"
enroll otc2 "$OTC" || fail "the one-time challenge's second use failed on PostgreSQL: $(tail -n 3 otc2.log)"
rc=0
enroll otc3 "$OTC" || rc=$?
[ "$rc" = 3 ] || fail "the one-time challenge admitted a third enrollment (scepc exit $rc, want 3)"
enroll pg1 || fail "a new enrollment on PostgreSQL failed: $(tail -n 3 pg1.log)"
cp dev1.crt dev1-old.crt
"$SCEPC" renew --url "$SCEPD_URL" --fingerprint "$FP" --key dev1.key --cert dev1.crt >renew2.log 2>&1 ||
    fail "renewing a certificate issued on SQLite failed on PostgreSQL: $(tail -n 3 renew2.log)"
[ "$(pg_sql "SELECT superseded_by FROM certificates WHERE serial = '$(cert_serial dev1-old.crt)'")" = \
    "$(cert_serial dev1.crt)" ] || fail "the renewal on PostgreSQL did not supersede the SQLite certificate"
for c in otc2 pg1 dev1 held; do
    hex=$(cert_der_hex "$c.crt" | tr A-F a-f)
    [ "$(pg_sql "SELECT count(*) FROM certificates WHERE encode(der, 'hex') = '$hex'")" = 1 ] ||
        fail "$c is not in PostgreSQL"
done

say "CRL numbers go on from SQLite's; the revocation is in the CRL and OCSP"
pgctl crl --out p.crl >/dev/null || fail "crl on PostgreSQL failed"
[ "$(crlnum p.crl)" -gt "$s_crl" ] || fail "CRL number $(crlnum p.crl) on PostgreSQL is not above SQLite's $s_crl"
openssl crl -in p.crl -noout -text | grep -q "Serial Number: $s_rev" || fail "the CRL lacks $s_rev"
openssl ocsp -issuer ca.pem -cert dev3.crt -url "${SCEPD_URL%/*}/ocsp" -CAfile ca.pem \
    -no_nonce >ocsp.out 2>&1 || true
grep -q "dev3.crt: revoked" ocsp.out || fail "OCSP does not say revoked: $(cat ocsp.out)"
pgctl audit --verify >verify2.out 2>&1 || fail "audit --verify after more work failed: $(cat verify2.out)"
scepd_stop
