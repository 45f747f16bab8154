#!/usr/bin/env bash
# A wrong challenge password is refused the way RFC 8894 says (3.3.2.2):
# a signed CertRep with pkiStatus FAILURE and failInfo badRequest, not an
# HTTP error.  Shown from both sides: strongSwan's own decoding of the
# reply (it prints pkiStatus and failInfo at --debug 2) and scepd's
# request log line.  Nothing is issued, and each refusal leaves exactly
# one "refuse" audit event.
. "$(dirname "$0")/lib.sh"
need pki scepclient openssl sqlite3 curl

# micromdm scepclient 2.1.0 always sends single DES (scep-interop.md 2),
# which scepd accepts only with allow_des: the refusal must be the challenge's.
scepd_start wc --allow-des true
fetch_ca_certs "$IT_WORK/ca"
pki --gen --type rsa --size 2048 --outform pem >"$IT_WORK/k1.pem" 2>/dev/null

say "strongSwan with a wrong challenge fails"
if sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca" aes sha256 "CN=intruder" \
    --password "not-$IT_CHALLENGE" --debug 2; then
    fail "pki --scep succeeded with a wrong challenge"
fi
[ -s "$IT_WORK/c1.pem" ] && fail "pki --scep wrote a certificate despite the wrong challenge"

say "strongSwan decoded a signed FAILURE with failInfo badRequest"
grep -Eq 'pkiStatus: +FAILURE' "$IT_WORK/c1.pem.log" ||
    fail "strongSwan saw no pkiStatus FAILURE: $(grep -E 'pkiStatus|failInfo|HTTP' "$IT_WORK/c1.pem.log" | head -n 3)"
grep -Eq 'failInfo: +badRequest' "$IT_WORK/c1.pem.log" ||
    fail "strongSwan saw no failInfo badRequest: $(grep -E 'failInfo' "$IT_WORK/c1.pem.log" | head -n 3)"

say "scepd logged outcome=failure fail_info=badRequest for the PKIOperation"
grep 'op=PKIOperation' "$SCEPD_LOG" | grep 'outcome=failure' | grep -q 'fail_info=badRequest' ||
    fail "no 'op=PKIOperation ... outcome=failure fail_info=badRequest' line in scepd's log"

say "nothing stored, exactly one refuse audit event"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 0 ] || fail "$n certificate(s) stored after a refused request"
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'refuse';")
[ "$n" = 1 ] || fail "$n refuse audit events after one refused request (want 1)"

say "micromdm scepclient with a wrong challenge fails too, and is refused once more"
if mm_enroll intruder2 "not-$IT_CHALLENGE"; then
    fail "scepclient succeeded with a wrong challenge"
fi
[ -s "$IT_WORK/intruder2/cert.pem" ] && fail "scepclient wrote a certificate despite the wrong challenge"
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = 0 ] || fail "$n certificate(s) stored after two refused requests"
n=$(store_sql "SELECT count(*) FROM audit WHERE kind = 'refuse';")
[ "$n" = 2 ] || fail "$n refuse audit events after two refused requests (want 2)"

say "scepctl sees the refusals and the audit chain verifies"
"$SCEPCTL" --state-dir "$SCEPD_STATE" --json audit >"$IT_WORK/audit.json" || fail "scepctl audit failed"
grep -q 'refuse' "$IT_WORK/audit.json" || fail "scepctl audit --json shows no refuse event"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null || fail "scepctl audit --verify failed"

say "the right challenge still works afterwards"
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c3.pem" "$IT_WORK/ca" aes sha256 "CN=legit" \
    --password "$IT_CHALLENGE" || fail "pki --scep with the right challenge failed: $(tail -n 5 "$IT_WORK/c3.pem.log")"
check_verifies "$IT_WORK/c3.pem" "$SCEPD_STATE/ca.crt"
check_stored "$IT_WORK/c3.pem"

scepd_stop
