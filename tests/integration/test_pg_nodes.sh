#!/usr/bin/env bash
# Two scepd nodes on one PostgreSQL database (a server this test starts
# and stops, pg.sh), with the same CA key files, as behind a load
# balancer.  Whatever must be unique is decided by the database:
#   - the two nodes start at once on the new database: it is migrated
#     once (one schema_version row per step);
#   - 40 strongSwan pki enrollments in parallel, split evenly across both
#     nodes: every one succeeds, every certificate is stored byte for
#     byte, 40 distinct serials, the audit chain has no gap and no fork
#     and scepctl audit --verify passes;
#   - one key (one transactionID) enrolled by 6 clients at once, 3 on
#     each node: one certificate is stored and every client holds it;
#   - a revocation through node A's scepctl is in the CRL that scepctl
#     builds for node B, and CRL numbers from both keep growing;
#   - both nodes look for expiring certificates every second (a 400-day
#     threshold makes every new certificate due at once) and race to
#     claim each notice: the test webhook gets exactly one per
#     certificate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
need pki openssl curl

pg_start

SECRET="nodes-$IT_CHALLENGE"
printf '%s\n' "$SECRET" >"$IT_WORK/secret"
chmod 600 "$IT_WORK/secret"
python3 "$SCEP_IT_DIR/webhook_server.py" --port-file "$IT_WORK/hook.port" --secret "$SECRET" \
    --log "$IT_WORK/hook.log" 2>"$IT_WORK/hook.err" &
IT_PIDS+=("$!")
for i in $(seq 1 100); do [ -s "$IT_WORK/hook.port" ] && break; sleep 0.1; done
[ -s "$IT_WORK/hook.port" ] || fail "the test webhook did not start: $(cat "$IT_WORK/hook.err")"

say "node A creates the CA; node B gets a copy of its key files"
"$SCEPCTL" --state-dir "$IT_WORK/a" init --rsa-bits 2048 --subject "CN=pg nodes CA" >/dev/null ||
    fail "scepctl init failed"
cp -a "$IT_WORK/a" "$IT_WORK/b"

say "both nodes start at once on the new database"
# Not scepd_start, which waits for one node before the next can start.
for n in a b; do
    pg_node_start "$n" --notify-days 400 --notify-interval-seconds 1 \
        --notify-webhook-url "http://127.0.0.1:$(cat "$IT_WORK/hook.port")/allow" \
        --notify-webhook-secret-file "$IT_WORK/secret"
done
for n in a b; do pg_node_wait "$n"; done
[ "$(pg_sql 'SELECT count(*) FROM schema_version')" = 8 ] ||
    fail "schema_version holds $(pg_sql 'SELECT count(*) FROM schema_version') rows (want 8: each step once)"
SCEPD_STATE=$IT_WORK/a
SCEPD_URL=$URL_a
fetch_ca_certs "$IT_WORK/ca"
SCEPD_URL=$URL_b
fetch_ca_certs "$IT_WORK/ca-b"
cmp -s "$IT_WORK/ca/cacert.bin" "$IT_WORK/ca-b/cacert.bin" || fail "the nodes answer GetCACert differently"

CLIENTS=4
EACH=10
TOTAL=$((CLIENTS * EACH))
say "generating $TOTAL client keys"
mkdir -p "$IT_WORK/k" "$IT_WORK/c"
for i in $(seq 1 "$TOTAL"); do rsa_key "$IT_WORK/k/$i.pem"; done

say "$CLIENTS clients x $EACH enrollments in parallel, half on each node"
pids=()
for c in $(seq 1 "$CLIENTS"); do
    (
        if [ $((c % 2)) -eq 1 ]; then SCEPD_URL=$URL_a; else SCEPD_URL=$URL_b; fi
        for j in $(seq 1 "$EACH"); do
            i=$(((c - 1) * EACH + j))
            sw_enroll "$IT_WORK/k/$i.pem" "$IT_WORK/c/$i.crt" "$IT_WORK/ca" aes sha256 "CN=node-$i" \
                --password "$IT_CHALLENGE" || echo "enrollment $i failed" >"$IT_WORK/c/$i.failed"
        done
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for f in "$IT_WORK"/c/*.failed; do
    [ -e "$f" ] || continue
    i=$(basename "$f" .failed)
    fail "enrollment $i failed: $(tail -n 3 "$IT_WORK/c/$i.crt.log")"
done

say "all $TOTAL stored byte for byte, distinct serials, both nodes served"
for i in $(seq 1 "$TOTAL"); do
    check_verifies "$IT_WORK/c/$i.crt" "$IT_WORK/a/ca.crt"
    hex=$(cert_der_hex "$IT_WORK/c/$i.crt" | tr A-F a-f)
    [ "$(pg_sql "SELECT count(*) FROM certificates WHERE encode(der, 'hex') = '$hex'")" = 1 ] ||
        fail "certificate $i is not in PostgreSQL, byte for byte"
done
[ "$(pg_sql 'SELECT count(DISTINCT serial) FROM certificates')" = "$TOTAL" ] ||
    fail "$(pg_sql 'SELECT count(DISTINCT serial) FROM certificates') distinct serials (want $TOTAL)"
[ "$(for i in $(seq 1 "$TOTAL"); do cert_serial "$IT_WORK/c/$i.crt"; done | sort -u | wc -l)" = "$TOTAL" ] ||
    fail "the clients hold fewer than $TOTAL distinct serials"
for n in a b; do
    k=$(grep 'msg=request' "$IT_WORK/$n.scepd.log" | grep 'op=PKIOperation' | grep -c 'outcome=success' || true)
    [ "$k" = $((TOTAL / 2)) ] || fail "node $n answered $k enrollments (want $((TOTAL / 2)))"
done

say "the audit chain: one event per certificate, no gap, no fork, verifies"
n=$(pg_sql "SELECT count(*) FROM audit")
[ "$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'issue'")" = "$TOTAL" ] ||
    fail "$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'issue'") issue events (want $TOTAL)"
[ "$(pg_sql "SELECT max(id) FROM audit")" = "$n" ] || fail "audit ids have gaps"
[ "$(pg_sql "SELECT count(DISTINCT prev_hash) FROM audit")" = "$n" ] || fail "the audit chain forked"
"$SCEPCTL" --state-dir "$IT_WORK/b" --database "$PG_URI" audit --verify >/dev/null 2>"$IT_WORK/verify.err" ||
    fail "scepctl audit --verify failed: $(cat "$IT_WORK/verify.err")"

say "one transactionID from 6 clients at once, 3 per node: one certificate, all hold it"
rsa_key "$IT_WORK/same.pem"
pids=()
for c in 1 2 3 4 5 6; do
    (
        if [ $((c % 2)) -eq 1 ]; then SCEPD_URL=$URL_a; else SCEPD_URL=$URL_b; fi
        sw_enroll "$IT_WORK/same.pem" "$IT_WORK/same-$c.crt" "$IT_WORK/ca" aes sha256 "CN=same" \
            --password "$IT_CHALLENGE" || echo failed >"$IT_WORK/same-$c.failed"
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE subject = 'CN=same'")" = 1 ] ||
    fail "$(pg_sql "SELECT count(*) FROM certificates WHERE subject = 'CN=same'") certificates for one transactionID"
[ "$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'issue' AND detail LIKE 'CN=same;%'")" = 1 ] ||
    fail "more than one issue event for one transactionID"
want=$(pg_sql "SELECT serial FROM certificates WHERE subject = 'CN=same'")
for c in 1 2 3 4 5 6; do
    [ ! -e "$IT_WORK/same-$c.failed" ] || fail "client $c of one transactionID failed: $(tail -n 3 "$IT_WORK/same-$c.crt.log")"
    [ "$(cert_serial "$IT_WORK/same-$c.crt")" = "$want" ] || fail "client $c holds another certificate"
done

say "revoked through node A, in node B's CRL; CRL numbers grow on both"
s1=$(cert_serial "$IT_WORK/c/1.crt")
"$SCEPCTL" --state-dir "$IT_WORK/a" --database "$PG_URI" revoke "$s1" >/dev/null 2>&1 || fail "revoke on A failed"
"$SCEPCTL" --state-dir "$IT_WORK/b" --database "$PG_URI" crl --out "$IT_WORK/b.crl" >/dev/null 2>&1 ||
    fail "crl on B failed"
openssl crl -in "$IT_WORK/b.crl" -noout -text | grep -q "Serial Number: $s1" || fail "B's CRL lacks $s1"
crlnum() { openssl crl -in "$1" -noout -crlnumber | sed 's/.*=//'; }
"$SCEPCTL" --state-dir "$IT_WORK/a" --database "$PG_URI" crl --out "$IT_WORK/a.crl" >/dev/null 2>&1 ||
    fail "crl on A failed"
# openssl prints the number as 0x.. hex, which $(( )) reads.
[ $(($(crlnum "$IT_WORK/a.crl"))) -gt $(($(crlnum "$IT_WORK/b.crl"))) ] ||
    fail "A's CRL number $(crlnum "$IT_WORK/a.crl") is not above B's $(crlnum "$IT_WORK/b.crl")"

say "two nodes racing for every expiry notice: one webhook notice per certificate"
want=$(pg_sql "SELECT count(*) FROM certificates")
for i in $(seq 1 100); do
    [ "$(pg_sql "SELECT count(*) FROM notices WHERE state = 1")" = "$want" ] && break
    sleep 0.2
done
sleep 2
[ "$(pg_sql "SELECT count(*) FROM notices WHERE state = 1")" = "$want" ] ||
    fail "$(pg_sql "SELECT count(*) FROM notices WHERE state = 1") notices sent (want $want)"
python3 - "$IT_WORK/hook.log" "$want" <<'PY' || fail "the webhook did not get each notice once"
import collections, json, sys
c = collections.Counter(json.loads(l)["serial"] for l in open(sys.argv[1]) if l.strip())
assert len(c) == int(sys.argv[2]), (len(c), sys.argv[2])
assert set(c.values()) == {1}, [s for s, n in c.items() if n != 1]
PY
say "notices claimed by: $(pg_sql "SELECT string_agg(DISTINCT split_part(claimed_by, ':', 2), ' ') FROM notices")"
