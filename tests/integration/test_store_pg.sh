#!/usr/bin/env bash
# The PostgreSQL store against a real server that this test starts and
# stops (pg.sh: PostgreSQL 15 from Debian, its own directory and port,
# SCRAM over TCP with the password in a password file).
#   - The backend contract suite (test_store_contract, the program the
#     SQLite run uses) passes with SCEP_STORE_URI=postgresql://..., then
#     twice at once on the now shared database.  test_admin_migrate
#     copies a SQLite store into a new, empty PostgreSQL database.
#   - The password comes from PGPASSFILE, passfile= or PGPASSWORD; without
#     one the open fails with the server's reason; it never shows up in
#     a message, a log or the database.  scepd facing no server exits 1
#     with libpq's reason.  A role without CREATE works once the schema
#     is migrated.
#   - scepd --database postgresql://... enrolls strongSwan pki clients,
#     and writes no SQLite file; every certificate is in PostgreSQL.
#   - scepctl --database postgresql://... list, revoke, crl (openssl
#     reads the CRL and finds the serial) and audit --verify work.
#   - The server restarts under a running scepd: the next enrollment
#     works.  While it is down a PKIOperation gets 503 and writes
#     nothing; once it is back, scepd recovers by itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
need pki openssl curl
: "${STORE_CONTRACT:?STORE_CONTRACT must name the test_store_contract executable}"
: "${MIGRATE_TEST:?MIGRATE_TEST must name the test_admin_migrate executable}"

pg_start

say "the store contract suite passes on PostgreSQL"
SCEP_STORE_URI=$PG_URI "$STORE_CONTRACT" >"$IT_WORK/contract.log" 2>&1 ||
    fail "contract suite failed on $PG_URI: $(grep -E 'FAILED|ERROR|error' "$IT_WORK/contract.log" | head -n 5)"
grep -q 'PASSED' "$IT_WORK/contract.log" || fail "contract suite printed no PASSED line"
[ "$(pg_sql 'SELECT max(version) FROM schema_version')" = 8 ] ||
    fail "schema_version is $(pg_sql 'SELECT max(version) FROM schema_version') (want 8)"

say "a store copied into an empty PostgreSQL database (test_admin_migrate)"
"$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U scepd scepd_copy 2>"$IT_WORK/createdb.err" ||
    fail "createdb scepd_copy failed: $(cat "$IT_WORK/createdb.err")"
SCEP_MIGRATE_TARGET_URI="postgresql://scepd@127.0.0.1:$PG_PORT/scepd_copy" "$MIGRATE_TEST" \
    >"$IT_WORK/migrate.log" 2>&1 ||
    fail "the copy test failed on PostgreSQL: $(grep -E 'FAILED|ERROR|error' "$IT_WORK/migrate.log" | head -n 5)"
grep -q 'PASSED' "$IT_WORK/migrate.log" || fail "the copy test printed no PASSED line"

say "twice at once on the shared database: both pass, the audit chain stays one chain"
SCEP_STORE_URI=$PG_URI "$STORE_CONTRACT" >"$IT_WORK/contract1.log" 2>&1 &
c1=$!
SCEP_STORE_URI=$PG_URI "$STORE_CONTRACT" >"$IT_WORK/contract2.log" 2>&1 &
c2=$!
wait "$c1" || fail "first parallel contract run failed: $(grep -E 'FAILED|ERROR' "$IT_WORK/contract1.log" | head -n 5)"
wait "$c2" || fail "second parallel contract run failed: $(grep -E 'FAILED|ERROR' "$IT_WORK/contract2.log" | head -n 5)"
n=$(pg_sql "SELECT count(*) FROM audit")
[ "$(pg_sql "SELECT max(id) FROM audit")" = "$n" ] || fail "audit ids have gaps: $n events"
[ "$(pg_sql "SELECT count(DISTINCT prev_hash) FROM audit")" = "$n" ] || fail "the audit chain forked"

say "the password: from passfile= or PGPASSWORD too; without one, the server's reason"
ctl_list() { "$SCEPCTL" --state-dir "$IT_WORK/ctl-ca" --database "$1" list >"$IT_WORK/ctl.out" 2>"$IT_WORK/ctl.err"; }
"$SCEPCTL" --state-dir "$IT_WORK/ctl-ca" init --rsa-bits 2048 >/dev/null 2>&1 || fail "scepctl init failed"
ctl_list "$PG_URI" || fail "scepctl list with PGPASSFILE failed: $(cat "$IT_WORK/ctl.err")"
(unset PGPASSFILE && ctl_list "$PG_URI?passfile=$PG_PASSFILE") ||
    fail "scepctl list with passfile= failed: $(cat "$IT_WORK/ctl.err")"
(unset PGPASSFILE && PGPASSWORD=$PG_PASSWORD ctl_list "$PG_URI") ||
    fail "scepctl list with PGPASSWORD failed: $(cat "$IT_WORK/ctl.err")"
(unset PGPASSFILE && HOME=$IT_WORK ctl_list "$PG_URI") && fail "scepctl list without a password succeeded"
grep -q 'postgresql: .*password' "$IT_WORK/ctl.err" ||
    fail "no password: the reason does not say so: $(cat "$IT_WORK/ctl.err")"
(unset PGPASSFILE && ctl_list "postgresql://scepd:wrong-$PG_PASSWORD@127.0.0.1:$PG_PORT/scepd") &&
    fail "scepctl list with a wrong password succeeded"
grep -q 'password authentication failed' "$IT_WORK/ctl.err" ||
    fail "wrong password: the reason does not say so: $(cat "$IT_WORK/ctl.err")"
grep -q -- "$PG_PASSWORD" "$IT_WORK/ctl.err" && fail "the password appears in scepctl's message"
# A password in the URI works (it is not recommended), and a message
# that names the database shows it as ***.
(unset PGPASSFILE &&
    "$SCEPCTL" --state-dir "$IT_WORK/ctl-ca" --database "postgresql://scepd:$PG_PASSWORD@127.0.0.1:$PG_PORT/scepd" \
        show 0BADC0DE >"$IT_WORK/ctl.out" 2>"$IT_WORK/ctl.err") && fail "scepctl show of an unknown serial succeeded"
grep -q 'no certificate with serial .* in postgresql://scepd:\*\*\*@127.0.0.1' "$IT_WORK/ctl.err" ||
    fail "scepctl show: unexpected message: $(cat "$IT_WORK/ctl.err")"
grep -q -- "$PG_PASSWORD" "$IT_WORK/ctl.err" "$IT_WORK/ctl.out" && fail "the password appears in scepctl's output"

say "scepd with a server nobody listens for: exit 1, libpq's reason, no password"
rc=0
"$SCEPD" --state-dir "$IT_WORK/ctl-ca" --listen 127.0.0.1:0 --challenge "$IT_CHALLENGE" \
    --database "postgresql://scepd:s3cret-$PG_PASSWORD@127.0.0.1:1/scepd" >"$IT_WORK/down.out" \
    2>"$IT_WORK/down.log" || rc=$?
[ "$rc" = 1 ] || fail "scepd without a server exited $rc (want 1)"
grep -q 'cannot open the store.*postgresql: connection to server at .*127.0.0.1.*port 1 failed' \
    "$IT_WORK/down.log" || fail "scepd did not say why: $(tail -n 2 "$IT_WORK/down.log")"
grep -q -- "s3cret" "$IT_WORK/down.log" "$IT_WORK/down.out" && fail "scepd printed the password"

say "a role that may only read and write the tables (no CREATE) works on the migrated schema"
printf "CREATE ROLE scepd_rw LOGIN PASSWORD '%s';\n" "$PG_PASSWORD" |
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U scepd -d scepd -f - ||
    fail "cannot create the role scepd_rw"
pg_sql "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO scepd_rw;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO scepd_rw" || fail "GRANT failed"
printf '127.0.0.1:%s:*:scepd_rw:%s\n' "$PG_PORT" "$PG_PASSWORD" >>"$PG_PASSFILE"
RW_URI="postgresql://scepd_rw@127.0.0.1:$PG_PORT/scepd"
ctl_list "$RW_URI" || fail "scepctl list as scepd_rw failed: $(cat "$IT_WORK/ctl.err")"
"$SCEPCTL" --state-dir "$IT_WORK/ctl-ca" --database "$RW_URI" crl --out "$IT_WORK/rw.crl" >/dev/null 2>"$IT_WORK/ctl.err" ||
    fail "scepctl crl (a write) as scepd_rw failed: $(cat "$IT_WORK/ctl.err")"
pg_sql "SELECT count(*) FROM pg_tables WHERE tableowner = 'scepd_rw'" | grep -qx 0 ||
    fail "scepd_rw created a table"

say "scepd --database postgresql://... enrolls strongSwan pki clients"
scepd_start pg --database "$PG_URI" --workers 2
fetch_ca_certs "$IT_WORK/ca"
for i in 1 2 3; do
    rsa_key "$IT_WORK/k$i.pem"
    sw_enroll "$IT_WORK/k$i.pem" "$IT_WORK/c$i.pem" "$IT_WORK/ca" aes sha256 "CN=pg-$i, O=scepd test" \
        --password "$IT_CHALLENGE" || fail "pki --scep $i failed: $(tail -n 5 "$IT_WORK/c$i.pem.log")"
    check_verifies "$IT_WORK/c$i.pem" "$SCEPD_STATE/ca.crt"
    check_same_key "$IT_WORK/c$i.pem" "$IT_WORK/k$i.pem"
    hex=$(cert_der_hex "$IT_WORK/c$i.pem" | tr A-F a-f)
    [ "$(pg_sql "SELECT count(*) FROM certificates WHERE encode(der, 'hex') = '$hex'")" = 1 ] ||
        fail "certificate $i is not in PostgreSQL, byte for byte"
done
[ ! -e "$SCEPD_STATE/scepd.db" ] || fail "scepd wrote a SQLite file beside the PostgreSQL store"
n=$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'issue' AND actor = 'scepd'")
[ "$n" = 3 ] || fail "$n issue events from scepd in the audit table (want 3)"

say "scepctl --database: list, revoke, crl, audit --verify"
ctl() { "$SCEPCTL" --state-dir "$SCEPD_STATE" --database "$PG_URI" "$@" >"$IT_WORK/ctl.out" 2>"$IT_WORK/ctl.err"; }
s1=$(cert_serial "$IT_WORK/c1.pem")
s2=$(cert_serial "$IT_WORK/c2.pem")
ctl --json list || fail "scepctl list failed: $(cat "$IT_WORK/ctl.err")"
for s in "$s1" "$s2"; do
    grep -q "$s" "$IT_WORK/ctl.out" || fail "scepctl list lacks $s: $(head -c 300 "$IT_WORK/ctl.out")"
done
ctl revoke "$s1" --reason keyCompromise || fail "scepctl revoke failed: $(cat "$IT_WORK/ctl.err")"
[ "$(pg_sql "SELECT status || ',' || revocation_reason FROM certificates WHERE serial = '$s1'")" = 1,1 ] ||
    fail "the revocation of $s1 is not in PostgreSQL"
ctl revoke "$s1" && fail "a second revocation of $s1 succeeded"
ctl crl --out "$IT_WORK/crl.pem" || fail "scepctl crl failed: $(cat "$IT_WORK/ctl.err")"
openssl crl -in "$IT_WORK/crl.pem" -noout -text >"$IT_WORK/crl.txt" 2>&1 || fail "openssl cannot read the CRL"
grep -q "Serial Number: $s1" "$IT_WORK/crl.txt" || fail "the CRL does not list $s1"
grep -q "Serial Number: $s2" "$IT_WORK/crl.txt" && fail "the CRL lists the valid $s2"
openssl crl -in "$IT_WORK/crl.pem" -CAfile "$SCEPD_STATE/ca.crt" -noout 2>/dev/null ||
    fail "the CRL's signature does not verify"
n1=$(pg_sql "SELECT last FROM crl_numbers")
ctl crl --out "$IT_WORK/crl2.pem" || fail "second scepctl crl failed"
[ "$(pg_sql "SELECT last FROM crl_numbers")" -gt "$n1" ] || fail "the CRL number did not grow"
ctl audit --verify || fail "scepctl audit --verify failed: $(cat "$IT_WORK/ctl.err")"
ctl --json list --status revoked || fail "scepctl list --status revoked failed"
grep -q "$s1" "$IT_WORK/ctl.out" || fail "list --status revoked lacks $s1"

say "the audit trail records the revocation; a tampered row is found"
[ "$(pg_sql "SELECT count(*) FROM audit WHERE kind = 'revoke' AND serial = '$s1'")" = 1 ] ||
    fail "no revoke event for $s1"
pg_sql "UPDATE audit SET detail = 'forged' WHERE id = (SELECT min(id) FROM audit WHERE kind = 'issue' AND actor = 'scepd')" >/dev/null
ctl audit --verify && fail "scepctl audit --verify passed a tampered audit table"

say "the password is nowhere: not in a log, not in the database"
grep -rqs -- "$PG_PASSWORD" "$IT_WORK" && fail "the password appears in $(grep -rls -- "$PG_PASSWORD" "$IT_WORK" | head -n 1)"
[ "$(pg_sql "SELECT count(*) FROM audit WHERE position('$PG_PASSWORD' IN coalesce(detail, '') || coalesce(actor, '')) > 0")" = 0 ] ||
    fail "the password appears in the audit table"

say "the server restarts under scepd: the next enrollment works, no scepd restart"
pg_server_down || fail "cannot stop PostgreSQL"
pg_server_up || fail "cannot start PostgreSQL again: $(tail -n 5 "$PG_DIR/log")"
rsa_key "$IT_WORK/k4.pem"
sw_enroll "$IT_WORK/k4.pem" "$IT_WORK/c4.pem" "$IT_WORK/ca" aes sha256 "CN=pg-4" \
    --password "$IT_CHALLENGE" || fail "enrollment after a restart failed: $(tail -n 5 "$IT_WORK/c4.pem.log")"
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE subject = 'CN=pg-4'")" = 1 ] ||
    fail "the certificate issued after the restart is not stored"

say "while the server is down: no certificate, nothing written; then it recovers by itself"
n=$(pg_sql "SELECT count(*) FROM audit")
pg_server_down || fail "cannot stop PostgreSQL"
rsa_key "$IT_WORK/k5.pem"
sw_enroll "$IT_WORK/k5.pem" "$IT_WORK/c5.pem" "$IT_WORK/ca" aes sha256 "CN=pg-5" \
    --password "$IT_CHALLENGE" --maxpolltime 2 && fail "an enrollment succeeded with the server down"
last=$(grep 'op=PKIOperation' "$SCEPD_LOG" | tail -n 1)
case $last in *status=503*) ;; *) fail "the PKIOperation during the outage was not answered 503: $last" ;; esac
kill -0 "$SCEPD_PID" || fail "scepd died with the database"
health=$(curl -sS -o /dev/null -w '%{http_code}' "${SCEPD_URL%/*}/healthz" || true)
[ "$health" = 503 ] || fail "/healthz with the database down: HTTP $health (want 503)"
pg_server_up || fail "cannot start PostgreSQL again: $(tail -n 5 "$PG_DIR/log")"
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE subject = 'CN=pg-5'")" = 0 ] ||
    fail "a certificate was stored during the outage"
[ "$(pg_sql "SELECT count(*) FROM audit")" = "$n" ] || fail "audit events were written during the outage"
ok=
for i in 1 2 3 4 5 6 7 8 9 10; do
    if sw_enroll "$IT_WORK/k5.pem" "$IT_WORK/c5.pem" "$IT_WORK/ca" aes sha256 "CN=pg-5" \
        --password "$IT_CHALLENGE"; then
        ok=1
        break
    fi
    sleep 1
done
[ -n "$ok" ] || fail "no enrollment within 10 s of the server's return: $(tail -n 5 "$IT_WORK/c5.pem.log")"
[ "$(pg_sql "SELECT count(*) FROM certificates WHERE subject = 'CN=pg-5'")" = 1 ] ||
    fail "the certificate issued after the outage is not stored"
# Every worker reconnects on its own, within its backoff (at most 5 s).
for i in $(seq 1 30); do
    health=$(curl -sS -o /dev/null -w '%{http_code}' "${SCEPD_URL%/*}/healthz" || true)
    [ "$health" = 200 ] && break
    sleep 0.5
done
[ "$health" = 200 ] || fail "/healthz after the database's return: HTTP $health (want 200)"

say "SIGTERM stops scepd with status 0"
scepd_stop
