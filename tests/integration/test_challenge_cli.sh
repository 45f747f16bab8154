#!/usr/bin/env bash
# scepctl challenge end to end on a state directory, no server: "new"
# prints the challenge alone on stdout (so OTP=$(scepctl challenge new)
# works) and its details on stderr, --json one object with it; "list"
# shows it active and never its text; revoke, then list shows it
# revoked; purge removes it; a bad --san, --subject, --ttl or --uses is a
# usage error (exit 2) with a message naming it; and neither the
# database nor its WAL holds a challenge's text, only its SHA-256.
#
# Environment: SCEPCTL (the executable under test); KEEP=1 keeps the
# temp directory.
set -euo pipefail

: "${SCEPCTL:?SCEPCTL must name the scepctl executable}"
NAME=test_challenge_cli
WORK=$(mktemp -d "${TMPDIR:-/tmp}/challenge-it.XXXXXX")

cleanup() {
    local rc=$?
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
for tool in python3 sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || fail "required tool $tool is missing"
done

STATE=$WORK/state

# ctl EXPECTED_STATUS ARGS...: runs scepctl on $STATE, stdout to
# $WORK/out, stderr to $WORK/err, and fails unless it exits so.
ctl() {
    local want=$1 rc=0
    shift
    "$SCEPCTL" --state-dir "$STATE" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "scepctl $* exited $rc, want $want"
}

# json EXPR: a Python expression over j, the JSON in $WORK/out, must hold.
json() {
    python3 - "$WORK/out" "$1" <<'PY' || fail "JSON check failed: $1 (output: $(head -c 400 "$WORK/out"))"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

say "no CA yet: refused, and a usage error is still a usage error"
ctl 1 challenge new
grep -q 'scepctl init' "$WORK/err" || fail "no hint to run init: $(cat "$WORK/err")"
ctl 2 challenge new --ttl 5x
ctl 0 init --key-type ec-p256

say "new: the challenge alone on stdout, details on stderr"
OTP=$("$SCEPCTL" --state-dir "$STATE" challenge new --subject "CN=dev1,O=Example" \
    --san DNS:dev1.example --san IP:192.0.2.10 --ttl 10m --uses 2 2>"$WORK/err") ||
    fail "challenge new exited $?"
[[ "$OTP" =~ ^[0-9a-f]{40}$ ]] || fail "challenge new printed '$OTP'"
ctl 0 challenge new --ttl 1h
[ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "stdout holds more than the challenge: $(cat "$WORK/out")"
OTP2=$(cat "$WORK/out")
[[ "$OTP2" =~ ^[0-9a-f]{40}$ ]] || fail "second challenge '$OTP2'"
[ "$OTP" != "$OTP2" ] || fail "two challenges are the same"
grep -q '^challenge 2: profile default, 1 use, expires 20' "$WORK/err" ||
    fail "details on stderr: $(cat "$WORK/err")"
grep -q 'subject: any' "$WORK/err" || fail "no subject line: $(cat "$WORK/err")"

say "new --json: one object, with the challenge"
ctl 0 challenge new --json --profile router --ttl 7d --uses 3
json 'len(j["challenge"]) == 40 and j["profile"] == "router" and j["max_uses"] == 3'
json 'j["state"] == "active" and j["uses"] == 0 and j["sans"] is None and j["id"] == 3'
OTP3=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["challenge"])' "$WORK/out")

say "list: active, with its binding, never the text"
ctl 0 challenge list
grep -Eq '^1 +default +0/2 +20[0-9-]+T[0-9:]+Z +active +subject=CN=dev1,O=Example; DNS:dev1.example,IP:192.0.2.10$' \
    "$WORK/out" || fail "list lacks challenge 1: $(cat "$WORK/out")"
grep -Eq '^3 +router +0/3 ' "$WORK/out" || fail "list lacks challenge 3: $(cat "$WORK/out")"
for t in "$OTP" "$OTP2" "$OTP3"; do
    ! grep -q "$t" "$WORK/out" || fail "list shows a challenge's text"
done
ctl 0 challenge list --json
json 'len(j) == 3 and all("challenge" not in o and "hash" not in o for o in j)'
json 'j[0]["sans"] == ["DNS:dev1.example", "IP:192.0.2.10"] and j[0]["subject"] == "CN=dev1,O=Example"'

say "revoke: list shows it revoked (with --all), the default list leaves it out"
ctl 0 challenge revoke 1
grep -q 'revoked challenge 1' "$WORK/out" || fail "revoke said: $(cat "$WORK/out")"
ctl 1 challenge revoke 1
grep -q 'already revoked' "$WORK/err" || fail "second revoke said: $(cat "$WORK/err")"
ctl 1 challenge revoke 99
grep -q 'no challenge with id 99' "$WORK/err" || fail "unknown revoke said: $(cat "$WORK/err")"
ctl 2 challenge revoke abc
ctl 0 challenge list --all
grep -Eq '^1 .* revoked ' "$WORK/out" || fail "list --all: $(cat "$WORK/out")"
ctl 0 challenge list
! grep -Eq '^1 ' "$WORK/out" || fail "the default list shows the revoked one: $(cat "$WORK/out")"

say "the audit trail records each step, never the text"
ctl 0 --json audit
json '[e["kind"] for e in j if e["kind"].startswith("challenge-")] == ["challenge-new"] * 3 + ["challenge-revoke"]'
for t in "$OTP" "$OTP2" "$OTP3"; do
    ! grep -q "$t" "$WORK/out" || fail "the audit trail holds a challenge's text"
done
ctl 0 audit --verify

say "purge: the revoked one goes, the others stay"
ctl 0 challenge purge
grep -q 'purged 1 ' "$WORK/out" || fail "purge said: $(cat "$WORK/out")"
ctl 0 challenge list --all --json
json 'sorted(o["id"] for o in j) == [2, 3]'

say "bad input: exit 2 and a message naming it"
bad() {
    local want=$1
    shift
    ctl 2 challenge new "$@"
    grep -q -- "$want" "$WORK/err" || fail "challenge new $*: stderr lacks '$want': $(cat "$WORK/err")"
}
bad 'SAN "IP:300.1.2.3" is not a valid IP name' --san IP:300.1.2.3
bad 'SAN "FOO:x": unknown type' --san FOO:x
bad 'is not TYPE:VALUE' --san dev1.example
bad 'is given twice' --san DNS:a.example --san dns:a.example
bad 'subject "CM=typo" is not a DN' --subject CM=typo
bad '--ttl 2y' --ttl 2y
bad '--ttl 0' --ttl 0
bad '--ttl 400d' --ttl 400d
bad '--uses 0' --uses 0
bad 'not a profile name' --profile "a b"
bad '--san needs a value' --san
ctl 0 challenge list --all --json
json 'len(j) == 2'

say "the database holds hashes, not challenges"
DB=$STATE/scepd.db
[ -f "$DB" ] || fail "no database at $DB"
for t in "$OTP" "$OTP2" "$OTP3"; do
    for f in "$DB" "$DB-wal"; do
        [ -f "$f" ] || continue
        ! grep -qa "$t" "$f" || fail "$f holds a challenge's text"
    done
done
H=$(printf '%s' "$OTP2" | sha256sum | cut -d' ' -f1)
[ "$(sqlite3 "$DB" "SELECT id FROM challenges WHERE hash = '$H'")" = 2 ] ||
    fail "challenge 2 is not stored under the SHA-256 of its text"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM challenges WHERE length(hash) = 64")" = 2 ] ||
    fail "unexpected hashes: $(sqlite3 "$DB" 'SELECT id, hash FROM challenges')"
