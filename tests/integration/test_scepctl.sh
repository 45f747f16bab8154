#!/usr/bin/env bash
# scepctl end to end, checked by openssl and python3 rather than by our own
# code: init of an RSA and an EC CA, ca show (text and JSON), list on an
# empty store, audit and its hash-chain verification (also after tampering
# with the database), CRLs that "openssl crl -verify" accepts, rollover,
# the refusals (second init, no CA, unknown serial) and the exit codes.
#
# When SCEPD names a built scepd and micromdm's scepclient is installed, it
# also enrolls two devices against a real scepd and runs list, show --pem,
# revoke and crl over the issued certificates.
#
# Environment: SCEPCTL (the executable under test), optionally SCEPD;
# KEEP=1 keeps the temp directory.
set -euo pipefail

: "${SCEPCTL:?SCEPCTL must name the scepctl executable}"
NAME=test_scepctl
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scepctl-it.XXXXXX")
PIDS=()

cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "$NAME: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    [ "$rc" -eq 0 ] && echo "PASS $NAME"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s: %s\n' "$NAME" "$*"; }
fail() {
    printf 'FAIL %s: %s\n' "$NAME" "$*" >&2
    [ -s "$WORK/err" ] && { echo "--- last stderr:" >&2; tail -n 5 "$WORK/err" >&2; }
    exit 1
}
for tool in openssl python3; do
    command -v "$tool" >/dev/null || fail "required tool $tool is missing"
done

# ctl EXPECTED_STATUS ARGS...: runs scepctl, stdout to $WORK/out, stderr to
# $WORK/err, and fails unless it exits with EXPECTED_STATUS.
ctl() {
    local want=$1 rc=0
    shift
    "$SCEPCTL" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "scepctl $* exited $rc, want $want"
}

# json EXPR: evaluates a Python expression over j, the JSON in $WORK/out;
# fails unless it is true.
json() {
    python3 - "$WORK/out" "$1" <<'PY' || fail "JSON check failed: $1 (output: $(head -c 400 "$WORK/out"))"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
mode_of() { stat -c %a "$1"; }

RSA=$WORK/rsa
EC=$WORK/ec

say "usage: --help, --version, per-command --help exit 0"
ctl 0 --help
grep -q 'rollover' "$WORK/out" || fail "--help does not list the commands"
grep -q -- '--state-dir' "$WORK/out" || fail "--help does not list the configuration flags"
ctl 0 --version
grep -q '^scepctl [0-9]' "$WORK/out" || fail "--version printed '$(cat "$WORK/out")'"
ctl 0 list --help
grep -q -- '--expiring' "$WORK/out" || fail "list --help lacks --expiring"

say "every configuration key in --help is documented in scepd.conf(5) and scepd(8)"
MAN=$(cd "$(dirname "$0")/../../docs/man" && pwd)
ctl 0 --help
keys=$(sed -n '/^configuration keys/,/^$/p' "$WORK/out" | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p')
[ "$(echo "$keys" | wc -w)" -ge 20 ] || fail "--help lists only: $keys"
"$SCEPD" --help >"$WORK/scepd-help"
for k in $keys; do
    grep -q -- "^  --$k " "$WORK/scepd-help" || fail "scepd --help lacks flag --$k"
    grep -q "^\.It Cm ${k//-/_} " "$MAN/scepd.conf.5" || fail "scepd.conf(5) lacks key ${k//-/_}"
    grep -q "^\.It Fl -$k\b" "$MAN/scepd.8" || fail "scepd(8) lacks flag --$k"
done

say "usage errors exit 2"
ctl 2 frobnicate
grep -q 'unknown command' "$WORK/err" || fail "unknown command not explained"
ctl 2
ctl 2 --no-such-flag list
ctl 2 --state-dir "$RSA" list --status sideways
ctl 2 --state-dir "$RSA" ca
ctl 2 --state-dir "$RSA" ca rollover
ctl 2 --state-dir "$RSA" ca rollover --activate-at 2030-02-30T00:00:00Z
ctl 2 --state-dir "$RSA" revoke
ctl 2 --state-dir "$RSA" revoke ZZ-not-hex
ctl 2 --state-dir "$RSA" init --key-type dsa
ctl 2 --state-dir "$RSA" --workers many list

say "without a CA, commands fail with 1 and create nothing"
ctl 1 --state-dir "$RSA" list
grep -q 'scepctl init' "$WORK/err" || fail "no hint to run init: $(cat "$WORK/err")"
ctl 1 --state-dir "$RSA" ca show
[ ! -e "$RSA" ] || fail "a failed list created $RSA"

say "init an RSA CA"
ctl 0 --state-dir "$RSA" init --rsa-bits 2048 --subject "CN=IT RSA CA,O=scepd tests"
[ -s "$RSA/ca.crt" ] && [ -s "$RSA/ca.key" ] || fail "init wrote no ca.crt/ca.key"
[ "$(mode_of "$RSA/ca.key")" = 600 ] || fail "ca.key has mode $(mode_of "$RSA/ca.key")"
[ ! -e "$RSA/ra.crt" ] || fail "an RSA CA without --with-ra got an RA"
RSA_FP=$(fp_of "$RSA/ca.crt")
grep -q "$RSA_FP" "$WORK/out" || fail "init did not print the SHA-256 fingerprint $RSA_FP"
grep -q "$RSA/ca.key" "$WORK/out" || fail "init did not print the key path"
openssl x509 -in "$RSA/ca.crt" -noout -subject -nameopt RFC2253 | grep -q 'CN=IT RSA CA' ||
    fail "CA subject is $(openssl x509 -in "$RSA/ca.crt" -noout -subject)"
openssl verify -CAfile "$RSA/ca.crt" "$RSA/ca.crt" >/dev/null || fail "CA certificate not self-signed"

say "a second init fails with 1 and leaves the CA alone"
ctl 1 --state-dir "$RSA" init --key-type ec-p256
grep -q 'already exists' "$WORK/err" || fail "second init not explained: $(cat "$WORK/err")"
[ "$(fp_of "$RSA/ca.crt")" = "$RSA_FP" ] || fail "second init replaced the CA"

say "init an EC P-256 CA (gets an RSA RA), JSON output"
ctl 0 --state-dir "$EC" --json init --key-type ec-p256 --ra-rsa-bits 2048
json 'j["ca"]["key"] == "EC P-256" and j["ra"]["key"] == "RSA 2048"'
EC_FP=$(fp_of "$EC/ca.crt")
json "j['ca']['fingerprint_sha256'] == '$EC_FP'"
[ "$(mode_of "$EC/ra.key")" = 600 ] || fail "ra.key has mode $(mode_of "$EC/ra.key")"
openssl verify -CAfile "$EC/ca.crt" "$EC/ra.crt" >/dev/null || fail "RA not issued by the EC CA"

say "ca show, text and JSON"
ctl 0 --state-dir "$RSA" ca show
grep -q "$RSA_FP" "$WORK/out" || fail "ca show lacks the fingerprint"
grep -q 'RSA 2048' "$WORK/out" || fail "ca show lacks the key size"
ctl 0 --state-dir "$RSA" ca show --json
python3 -m json.tool "$WORK/out" >/dev/null || fail "ca show --json is not JSON"
serial=$(openssl x509 -in "$RSA/ca.crt" -noout -serial | sed 's/serial=//')
json "j['ca']['fingerprint_sha256'] == '$RSA_FP' and j['ra'] is None and j['next'] is None"
json "j['ca']['serial'].lstrip('0') == '$serial'.lstrip('0')"
json "j['ca']['not_after'].endswith('Z')"
ctl 0 --json --state-dir "$EC" ca show
json "j['ra'] is not None and j['ra']['fingerprint_sha256'] != j['ca']['fingerprint_sha256']"

say "a rollover keeps the RA's key size unless --ra-rsa-bits says otherwise"
cp -a "$EC" "$WORK/ec-roll"
ctl 0 --state-dir "$WORK/ec-roll" ca rollover --in 30
openssl x509 -in "$WORK/ec-roll/next/ra.crt" -noout -text | grep -q 'Public-Key: (2048 bit)' ||
    fail "the next RA of a 2048-bit RA is not 2048 bits"
rm -rf "$WORK/ec-roll"
cp -a "$EC" "$WORK/ec-roll"
ctl 0 --state-dir "$WORK/ec-roll" ca rollover --in 30 --ra-rsa-bits 3072
openssl x509 -in "$WORK/ec-roll/next/ra.crt" -noout -text | grep -q 'Public-Key: (3072 bit)' ||
    fail "--ra-rsa-bits 3072 did not make a 3072-bit next RA"
rm -rf "$WORK/ec-roll"

say "list on an empty store"
ctl 0 --state-dir "$RSA" list
[ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "empty list printed more than its header"
grep -q '^SERIAL' "$WORK/out" || fail "list header missing"
ctl 0 --state-dir "$RSA" --json list --status all
json 'j == []'
ctl 0 --state-dir "$RSA" --json list --expiring 30
json 'j == []'

say "show and revoke of an unknown serial fail with 1"
ctl 1 --state-dir "$RSA" show 0A0B0C
grep -q 'no certificate' "$WORK/err" || fail "unknown serial not explained"
ctl 1 --state-dir "$RSA" revoke 0a:0b:0c --reason keyCompromise

say "crl: PEM on stdout, accepted by openssl crl -verify"
ctl 0 --state-dir "$RSA" crl
cp "$WORK/out" "$WORK/rsa1.crl"
openssl crl -in "$WORK/rsa1.crl" -CAfile "$RSA/ca.crt" -verify -noout 2>"$WORK/err" ||
    fail "openssl rejects the CRL"
grep -q 'verify OK' "$WORK/err" || fail "openssl crl -verify did not say OK"
openssl crl -in "$WORK/rsa1.crl" -noout -crlnumber | grep -Eq '=(0x)?0*1$' || fail "first CRL number is not 1"

say "crl --der --out FILE: next CRL number, nextUpdate from crl_validity_hours"
ctl 0 --state-dir "$RSA" --crl-validity-hours 24 crl --der --out "$WORK/rsa2.crl"
openssl crl -inform DER -in "$WORK/rsa2.crl" -CAfile "$RSA/ca.crt" -verify -noout 2>/dev/null ||
    fail "openssl rejects the DER CRL"
openssl crl -inform DER -in "$WORK/rsa2.crl" -noout -crlnumber | grep -Eq '=(0x)?0*2$' ||
    fail "second CRL number is not 2"
python3 - "$WORK/rsa2.crl" <<'PY' || fail "nextUpdate is not 24 h after lastUpdate"
import subprocess, sys
from datetime import datetime
out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", sys.argv[1], "-noout",
                      "-lastupdate", "-nextupdate"], capture_output=True, text=True, check=True).stdout
d = dict(l.split("=", 1) for l in out.strip().splitlines())
f = "%b %d %H:%M:%S %Y GMT"
delta = datetime.strptime(" ".join(d["nextUpdate"].split()), f) - \
        datetime.strptime(" ".join(d["lastUpdate"].split()), f)
sys.exit(0 if abs(delta.total_seconds() - 86400) <= 1 else 1)
PY
ls "$WORK"/rsa2.crl.tmp.* >/dev/null 2>&1 && fail "crl --out left a temp file"

say "crl of the EC CA verifies too"
ctl 0 --state-dir "$EC" crl --out "$WORK/ec.crl"
openssl crl -in "$WORK/ec.crl" -CAfile "$EC/ca.crt" -verify -noout 2>/dev/null ||
    fail "openssl rejects the EC CA's CRL"

say "ca rollover prepares a next CA with the same subject"
ctl 2 --state-dir "$RSA" ca rollover --in 10 --activate-at 2030-01-01T00:00:00Z
ctl 1 --state-dir "$RSA" ca rollover --in 20000
grep -q 'expires' "$WORK/err" || fail "rollover past the CA's end not explained"
ctl 0 --state-dir "$RSA" --json ca rollover --in 30 --rsa-bits 2048
[ -s "$RSA/next/ca.crt" ] || fail "rollover wrote no next/ca.crt"
ctl 0 --state-dir "$RSA" --json ca show
json "j['next'] is not None and j['next']['activate_at'].endswith('Z')"
json "j['next']['subject'] == j['ca']['subject'] and j['next']['fingerprint_sha256'] != j['ca']['fingerprint_sha256']"
[ "$(fp_of "$RSA/ca.crt")" = "$RSA_FP" ] || fail "rollover changed the current CA before activation"
ctl 1 --state-dir "$RSA" ca rollover --in 30
grep -q 'already' "$WORK/err" || fail "second rollover not explained"

say "audit lists every change, and the hash chain verifies"
ctl 0 --state-dir "$RSA" --json audit
json '[e["kind"] for e in j] == ["ca-init", "crl", "crl", "ca-rollover"]'
json 'all(e["actor"].startswith("scepctl") for e in j)'
json "j[0]['serial'].lstrip('0') == '$serial'.lstrip('0')"
json 'all(e["hash"] for e in j)'
ctl 0 --state-dir "$RSA" --json audit --after 2
json '[e["id"] for e in j] == [3, 4]'
ctl 0 --state-dir "$RSA" audit
grep -q 'ca-rollover' "$WORK/out" || fail "audit table lacks ca-rollover"
ctl 0 --state-dir "$RSA" audit --verify
ctl 0 --state-dir "$EC" audit --verify

say "a configuration file is read like scepd reads it; flags win"
cat >"$WORK/scepd.conf" <<EOF
[ca]
state_dir = $EC
crl_validity_hours = 12
EOF
ctl 0 --config "$WORK/scepd.conf" --json ca show
json "j['ca']['fingerprint_sha256'] == '$EC_FP'"
ctl 0 --config "$WORK/scepd.conf" --state-dir "$RSA" --json ca show
json "j['ca']['fingerprint_sha256'] == '$RSA_FP'"
printf '[ca]\nno_such_key = 1\n' >"$WORK/bad.conf"
ctl 2 --config "$WORK/bad.conf" ca show
grep -q 'bad.conf:2' "$WORK/err" || fail "bad config line not named: $(cat "$WORK/err")"

say "a key readable by others makes commands that load the CA fail with 1"
chmod 644 "$EC/ca.key"
ctl 1 --state-dir "$EC" ca show
grep -q 'chmod' "$WORK/err" || fail "unsafe key mode not explained: $(cat "$WORK/err")"
chmod 600 "$EC/ca.key"

if command -v sqlite3 >/dev/null; then
    say "tampering with an audit event is detected and named"
    cp "$RSA/scepd.db" "$WORK/tampered.db"
    sqlite3 "$WORK/tampered.db" "UPDATE audit SET detail = 'forged' WHERE id = 2;"
    ctl 1 --state-dir "$RSA" --database "sqlite:$WORK/tampered.db" audit --verify
    grep -q 'event 2' "$WORK/err" || fail "--verify did not name event 2: $(cat "$WORK/err")"
    ctl 0 --state-dir "$RSA" audit --verify
fi

# ---- issued certificates: needs a real scepd and a real client ----
if [ -z "${SCEPD:-}" ] || [ ! -x "${SCEPD:-}" ] || ! command -v scepclient >/dev/null; then
    say "SCEPD or scepclient not available: issued-certificate checks skipped"
    exit 0
fi

say "scepd serves the CA made by scepctl init; scepclient enrolls two devices"
ISS=$WORK/iss
ctl 0 --state-dir "$ISS" init --rsa-bits 2048
CHAL="it-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# --allow-des: scepclient 2.1.0 always sends single DES (scep-interop.md 2).
"$SCEPD" --state-dir "$ISS" --listen 127.0.0.1:0 --challenge "$CHAL" --workers 2 --allow-des true \
    >"$WORK/scepd.out" 2>"$WORK/scepd.log" &
PIDS+=("$!")
URL=
for _ in $(seq 1 200); do
    line=$(grep -m1 '^scepd: serving SCEP at ' "$WORK/scepd.out" || true)
    if [ -n "$line" ]; then URL=${line#scepd: serving SCEP at }; break; fi
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "scepd exited: $(tail -n 5 "$WORK/scepd.log")"
    sleep 0.1
done
[ -n "$URL" ] || fail "scepd never became ready"
for dev in dev1 dev2; do
    # scepclient keeps its CSR as csr.pem beside the key and reuses it, so
    # each device gets a directory of its own.
    mkdir "$WORK/$dev"
    scepclient -server-url "$URL" -challenge "$CHAL" -private-key "$WORK/$dev/key.pem" \
        -certificate "$WORK/$dev.crt" -cn "$dev" -keySize 2048 >"$WORK/$dev.log" 2>&1 ||
        fail "scepclient $dev failed: $(tail -n 3 "$WORK/$dev.log")"
    openssl x509 -in "$WORK/$dev.crt" -noout -subject -nameopt RFC2253 | grep -q "CN=$dev" ||
        fail "scepclient received $(openssl x509 -in "$WORK/$dev.crt" -noout -subject), not CN=$dev" \
            "(it keeps the first certificate of the CertRep; DER sorts a SET OF by encoding," \
            "so with a 2048-bit CA the shorter CA certificate comes first)"
done
s1=$(openssl x509 -in "$WORK/dev1.crt" -noout -serial | sed 's/serial=//')
s2=$(openssl x509 -in "$WORK/dev2.crt" -noout -serial | sed 's/serial=//')

say "list shows both with their SCEP details"
ctl 0 --state-dir "$ISS" --json list
# Both were issued within the same second, so "newest first" cannot order
# them; compare as a set.
json "sorted(r['serial'].lstrip('0') for r in j) == sorted(['$s2'.lstrip('0'), '$s1'.lstrip('0')])"
json 'all(r["status"] == "valid" and r["msg_type"] == "PKCSReq" and r["transaction_id"] for r in j)'
json 'all(r["requester"] and r["revoked_at"] is None and r["not_after"].endswith("Z") for r in j)'
ctl 0 --state-dir "$ISS" --json list --subject dev1
json "len(j) == 1 and 'CN=dev1' in j[0]['subject']"
ctl 0 --state-dir "$ISS" --json list --limit 1
json 'len(j) == 1'

say "show --pem prints the very certificate the client received"
ctl 0 --state-dir "$ISS" show "$s1" --pem
cmp -s <(openssl x509 -in "$WORK/out" -outform DER) <(openssl x509 -in "$WORK/dev1.crt" -outform DER) ||
    fail "show --pem differs from the enrolled certificate"
ctl 0 --state-dir "$ISS" --json show "$(echo "$s1" | tr A-F a-f)"
json "j['fingerprint_sha256'] == '$(fp_of "$WORK/dev1.crt")'"

say "revoke dev1 with keyCompromise; a second revoke fails with 1"
ctl 0 --state-dir "$ISS" revoke "$s1" --reason keyCompromise
ctl 1 --state-dir "$ISS" revoke "$s1"
grep -q 'already revoked' "$WORK/err" || fail "second revoke not explained"
ctl 0 --state-dir "$ISS" --json list --status revoked
json "len(j) == 1 and j[0]['reason'] == 'keyCompromise' and j[0]['revoked_at']"
ctl 0 --state-dir "$ISS" --json list --status valid
json "[r['serial'].lstrip('0') for r in j] == ['$s2'.lstrip('0')]"

say "the CRL lists dev1 (keyCompromise) but not dev2, and openssl verify agrees"
ctl 0 --state-dir "$ISS" crl --out "$WORK/iss.crl"
openssl crl -in "$WORK/iss.crl" -CAfile "$ISS/ca.crt" -verify -noout 2>/dev/null ||
    fail "openssl rejects the CRL"
openssl crl -in "$WORK/iss.crl" -noout -text >"$WORK/crl.txt"
grep -q "Serial Number: 0*$s1" "$WORK/crl.txt" || fail "CRL lacks $s1"
grep -q 'Key Compromise' "$WORK/crl.txt" || fail "CRL lacks the reason"
grep -q "Serial Number: 0*$s2" "$WORK/crl.txt" && fail "CRL lists the unrevoked $s2"
cat "$ISS/ca.crt" "$WORK/iss.crl" >"$WORK/chain.pem"
openssl verify -crl_check -CAfile "$WORK/chain.pem" "$WORK/dev1.crt" >/dev/null 2>&1 &&
    fail "openssl verify -crl_check accepts the revoked dev1"
openssl verify -crl_check -CAfile "$WORK/chain.pem" "$WORK/dev2.crt" >/dev/null ||
    fail "openssl verify -crl_check rejects the valid dev2"

say "the audit trail holds both issues and the revocation, and verifies"
ctl 0 --state-dir "$ISS" --json audit
json 'sum(e["kind"] == "issue" for e in j) == 2'
json "any(e['kind'] == 'revoke' and e['serial'].lstrip('0') == '$s1'.lstrip('0') for e in j)"
ctl 0 --state-dir "$ISS" audit --verify

say "defaults without flags: \$SCEPD_STATE names the state directory, \$SCEPD_CONFIG the file"
SCEPD_STATE=$RSA ctl 0 ca show
grep -q "IT RSA CA" "$WORK/out" || fail "SCEPD_STATE was not used: $(cat "$WORK/out")"
printf '[ca]\nstate_dir = %s\n' "$RSA" >"$WORK/default.conf"
SCEPD_CONFIG=$WORK/default.conf ctl 0 ca show
grep -q "IT RSA CA" "$WORK/out" || fail "SCEPD_CONFIG was not read: $(cat "$WORK/out")"
# a flag still wins over both
SCEPD_STATE=$WORK/nowhere SCEPD_CONFIG=$WORK/default.conf ctl 0 --state-dir "$RSA" ca show
SCEPD_STATE=$WORK/nowhere ctl 1 ca show
SCEPD_CONFIG=$WORK/default.conf "$SCEPD" -t >"$WORK/out" 2>&1 || fail "scepd -t with SCEPD_CONFIG: $(cat "$WORK/out")"
grep -q "default.conf ok" "$WORK/out" || fail "scepd did not read \$SCEPD_CONFIG: $(cat "$WORK/out")"
