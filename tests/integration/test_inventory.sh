#!/usr/bin/env bash
# The certificate inventory (issue 8): scepctl import of a folder of
# external certificates made with openssl (PEM, DER, a PEM bundle, a key
# and a note that are skipped) and of the chain a TLS endpoint serves
# (openssl s_server on 127.0.0.1); both show as external in scepctl
# list, deduplicated on a second import, with "import" audit events.  A
# strongSwan pki --scep renewal (signed with the old certificate) marks
# the old certificate superseded: list --status superseded shows it and
# show names its successor.  --json and --csv parse (python3), and a
# subject typed in OpenSSL's order finds what the table shows.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl python3

ctl() { "$SCEPCTL" --state-dir "$SCEPD_STATE" "$@"; }

scepd_start inv
fetch_ca_certs "$IT_WORK/ca"

say "a folder of external certificates: PEM, DER, a bundle, a key and a note"
EXT=$IT_WORK/ext
mkdir -p "$EXT/sub/deeper"
for i in 1 2 3; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$EXT/k$i.key" -out "$IT_WORK/e$i.pem" -days $((i * 10)) \
        -subj "/C=US/O=Example Ext/CN=ext$i.example" \
        -addext "subjectAltName=DNS:ext$i.example" 2>/dev/null || fail "openssl req failed"
done
cp "$IT_WORK/e1.pem" "$EXT/e1.pem"
openssl x509 -in "$IT_WORK/e2.pem" -outform DER -out "$EXT/sub/e2.der"
cat "$IT_WORK/e3.pem" "$IT_WORK/e1.pem" >"$EXT/sub/deeper/bundle.pem"
echo "certificates of the lab" >"$EXT/README"

ctl import "$EXT" >"$IT_WORK/import.out" 2>"$IT_WORK/import.err" ||
    fail "scepctl import failed: $(cat "$IT_WORK/import.err")"
grep -q '^3 imported, 1 already known, 0 failed, 4 files skipped' "$IT_WORK/import.out" ||
    fail "import summary: $(tail -n 1 "$IT_WORK/import.out")"

say "a TLS endpoint on 127.0.0.1 (openssl s_server, self-signed): its chain is recorded as seen there"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/tls.key" \
    -out "$IT_WORK/tls.pem" -days 5 -subj "/CN=tls-endpoint.example" 2>/dev/null
openssl s_server -accept "127.0.0.1:$PORT" -cert "$IT_WORK/tls.pem" -key "$IT_WORK/tls.key" \
    -quiet -naccept 2 </dev/null >"$IT_WORK/s_server.log" 2>&1 &
SSERVER=$!
it_on_exit "kill $SSERVER 2>/dev/null || true"
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
# The probe above used one of the two connections s_server accepts.
ctl --json import --tls --timeout 10 "127.0.0.1:$PORT" >"$IT_WORK/tls.json" 2>"$IT_WORK/tls.err" ||
    fail "scepctl import --tls failed: $(cat "$IT_WORK/tls.err")"
python3 - "$IT_WORK/tls.json" "$PORT" <<'PY' || fail "import --tls JSON: $(cat "$IT_WORK/tls.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["result"] == "imported", d
assert d[0]["source"] == "tls" and d[0]["seen_at"] == "127.0.0.1:" + sys.argv[2], d
assert d[0]["subject"] == "CN=tls-endpoint.example", d
PY
wait "$SSERVER" 2>/dev/null || true

say "a closed port fails with a reason and status 1"
ctl import --tls --timeout 2 "127.0.0.1:1" >/dev/null 2>"$IT_WORK/closed.err" &&
    fail "import --tls of a closed port succeeded"
grep -q 'Connection refused' "$IT_WORK/closed.err" || fail "closed port: $(cat "$IT_WORK/closed.err")"

say "list --status external shows the four, as table, JSON and CSV"
ctl list --status external >"$IT_WORK/ext.txt" || fail "list --status external failed"
[ "$(grep -c ' import \| tls ' "$IT_WORK/ext.txt")" = 4 ] || fail "external table: $(cat "$IT_WORK/ext.txt")"
ctl --json list --status external >"$IT_WORK/ext.json" || fail "list --json failed"
ctl list --status external --csv >"$IT_WORK/ext.csv" || fail "list --csv failed"
python3 - "$IT_WORK/ext.json" "$IT_WORK/ext.csv" "$EXT" <<'PY' || fail "external JSON/CSV do not parse as expected"
import csv, json, os, sys
j = json.load(open(sys.argv[1]))
subjects = sorted(c["subject"] for c in j)
assert subjects == ["CN=ext1.example,O=Example Ext,C=US", "CN=ext2.example,O=Example Ext,C=US",
                    "CN=ext3.example,O=Example Ext,C=US", "CN=tls-endpoint.example"], subjects
seen = {c["subject"]: c["seen_at"] for c in j}
assert seen["CN=ext2.example,O=Example Ext,C=US"] == os.path.realpath(sys.argv[3] + "/sub/e2.der"), seen
with open(sys.argv[2], newline="") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == 4, rows
assert sorted(r["subject"] for r in rows) == subjects
assert all(r["source"] in ("import", "tls") for r in rows)
assert all(len(r["fingerprint_sha256"]) == 64 for r in rows)
PY

say "a second import stores nothing new; each stored one has its import audit event"
ctl import "$EXT" >"$IT_WORK/import2.out" 2>&1 || fail "second import failed: $(cat "$IT_WORK/import2.out")"
grep -q '^0 imported, 4 already known' "$IT_WORK/import2.out" ||
    fail "second import: $(tail -n 1 "$IT_WORK/import2.out")"
[ "$(store_sql "SELECT count(*) FROM audit WHERE kind = 'import'")" = 4 ] ||
    fail "want 4 import events, have $(store_sql "SELECT count(*) FROM audit WHERE kind = 'import'")"
ctl audit --verify >/dev/null 2>"$IT_WORK/verify.err" || fail "audit does not verify: $(cat "$IT_WORK/verify.err")"

say "an external certificate cannot be revoked by us"
ext_serial=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["serial"])' "$IT_WORK/ext.json")
ctl revoke "$ext_serial" >/dev/null 2>"$IT_WORK/revoke.err" && fail "revoking an external certificate succeeded"
grep -q 'external certificate' "$IT_WORK/revoke.err" || fail "revoke external: $(cat "$IT_WORK/revoke.err")"

say "--expiring 15d lists the externals expiring soonest first"
ctl --json list --expiring 15d >"$IT_WORK/exp.json" || fail "list --expiring 15d failed"
python3 - "$IT_WORK/exp.json" <<'PY' || fail "expiring: $(cat "$IT_WORK/exp.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert [c["subject"] for c in d] == ["CN=tls-endpoint.example", "CN=ext1.example,O=Example Ext,C=US"], d
PY

say "enroll with strongSwan, then renew signed with the old certificate"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k1.pem" 2>/dev/null
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k2.pem" 2>/dev/null
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca" aes sha256 "CN=inv-dev, O=scepd test" \
    --password "$IT_CHALLENGE" || fail "pki --scep failed: $(tail -n 5 "$IT_WORK/c1.pem.log")"
sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/c2.pem" "$IT_WORK/ca" aes sha256 "CN=inv-dev, O=scepd test" \
    --cert "$IT_WORK/c1.pem" --key "$IT_WORK/k1.pem" ||
    fail "pki --scep renewal failed: $(tail -n 5 "$IT_WORK/c2.pem.log")"
old=$(cert_serial "$IT_WORK/c1.pem")
new=$(cert_serial "$IT_WORK/c2.pem")
[ "$old" != "$new" ] || fail "renewal returned the old certificate"

say "the old certificate is superseded by the new one"
ctl list --status superseded >"$IT_WORK/sup.txt" || fail "list --status superseded failed"
grep -q "superseded.*CN=inv-dev" "$IT_WORK/sup.txt" || fail "superseded list: $(cat "$IT_WORK/sup.txt")"
[ "$(grep -c 'CN=inv-dev' "$IT_WORK/sup.txt")" = 1 ] || fail "superseded list: $(cat "$IT_WORK/sup.txt")"
ctl show "$old" >"$IT_WORK/show.txt" || fail "show $old failed"
grep -Eq "^superseded by: +$new$" "$IT_WORK/show.txt" || fail "show $old: $(cat "$IT_WORK/show.txt")"
grep -Eq "^status: +superseded$" "$IT_WORK/show.txt" || fail "show $old: $(cat "$IT_WORK/show.txt")"
ctl --json show "$new" >"$IT_WORK/shownew.json" || fail "show $new failed"
python3 - "$IT_WORK/shownew.json" "$old" <<'PY' || fail "show new: $(cat "$IT_WORK/shownew.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "valid" and d["superseded_by"] is None, d
assert d["renewed_serial"] == sys.argv[2] and d["source"] == "scep" and d["profile"] == "default", d
PY
ctl list --status valid >"$IT_WORK/valid.txt" || fail "list --status valid failed"
grep -q "^$new .*CN=inv-dev" "$IT_WORK/valid.txt" || fail "valid list lacks $new: $(cat "$IT_WORK/valid.txt")"
grep -q "^$old " "$IT_WORK/valid.txt" && fail "valid list shows the superseded $old"

say "a subject typed in OpenSSL's order finds what the table shows; --san, --serial, --profile"
# pki --dn "CN=inv-dev, O=scepd test" encodes CN first; the table shows
# RFC 2253 (most significant last) as openssl -nameopt RFC2253 does, and
# the slash form (most significant first, as -subj takes it) finds it.
openssl x509 -in "$IT_WORK/c1.pem" -noout -subject -nameopt RFC2253 | grep -qx 'subject=O=scepd test,CN=inv-dev' ||
    fail "openssl shows $(openssl x509 -in "$IT_WORK/c1.pem" -noout -subject -nameopt RFC2253)"
ctl list | grep -q "superseded .* O=scepd test,CN=inv-dev$" || fail "table subject: $(ctl list)"
ctl --json list --subject "/CN=inv-dev/O=scepd test" >"$IT_WORK/subj.json" || fail "list --subject failed"
python3 - "$IT_WORK/subj.json" <<'PY' || fail "subject search: $(cat "$IT_WORK/subj.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2 and all(c["subject"] == "O=scepd test,CN=inv-dev" for c in d), d
PY
ctl --json list --subject "o=SCEPD test,cn=INV" >"$IT_WORK/subj2.json" || fail "list --subject (case) failed"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$IT_WORK/subj2.json")" = 2 ] ||
    fail "case-insensitive subject search: $(cat "$IT_WORK/subj2.json")"
ctl --json list --san ext3.EXAMPLE >"$IT_WORK/san.json" || fail "list --san failed"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$IT_WORK/san.json")" = 1 ] ||
    fail "SAN search: $(cat "$IT_WORK/san.json")"
ctl list --serial "${new:0:8}" | grep -q "^$new " || fail "serial prefix search misses $new"
ctl --json list --profile default --issued-after 2000-01-01 >"$IT_WORK/prof.json" || fail "list --profile failed"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$IT_WORK/prof.json")" = 6 ] ||
    fail "profile default: $(cat "$IT_WORK/prof.json")"
rc=0
ctl list --status sideways >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "list --status sideways exits $rc (want 2)"

say "SIGTERM stops scepd with status 0"
scepd_stop
