#!/usr/bin/env bash
# CRLs after a CA rollover, end to end: a certificate of the first CA is
# revoked after the second CA became current.  "scepctl crl --ca
# previous" makes a CRL signed by the archived CA that lists it, openssl
# verify -crl_check then reports it revoked, the new CA's CRL does not
# list it, and GetCRL naming that certificate (scepc getcrl) answers with
# the archived CA's CRL.  Relying parties can check the old CA's
# certificates until they expire.  Then a certificateHold on a new-CA
# certificate is listed until "scepctl unhold" releases it.
. "$(dirname "$0")/lib.sh"

# crl_signed_by FORM CRL CAFILE: openssl says the CRL's signature verifies
# with the CA in CAFILE ("openssl crl -verify" reports a failure only in
# its output, so its words are checked, not its exit status; the output
# is read whole first, since grep -q closing the pipe early would make
# openssl die of SIGPIPE under pipefail).
crl_signed_by() {
    local out
    out=$(openssl crl -inform "$1" -in "$2" -CAfile "$3" -verify -noout 2>&1 || true)
    case $out in *'verify OK'*) return 0 ;; *) return 1 ;; esac
}

# crl_lists FORM CRL SERIAL: the CRL has an entry for SERIAL (hex).
crl_lists() {
    openssl crl -inform "$1" -in "$2" -noout -text >"$2.txt" || fail "openssl cannot read $2"
    grep -Eiq "Serial Number: *0*$3\$" "$2.txt"
}
need curl openssl pki
: "${SCEPC:?SCEPC must name the scepc executable}"

say "enroll with strongSwan under the first CA"
scepd_start crl --ca-rsa-bits 2048
fetch_ca_certs "$IT_WORK/ca1"
rsa_key "$IT_WORK/k1.pem"
sw_enroll "$IT_WORK/k1.pem" "$IT_WORK/c1.pem" "$IT_WORK/ca1" aes sha256 "CN=crl-old" \
    --password "$IT_CHALLENGE" || fail "enrollment under the first CA: $(cat "$IT_WORK/c1.pem.log")"
openssl x509 -inform DER -in "$IT_WORK/c1.pem" -out "$IT_WORK/c1.crt" 2>/dev/null ||
    cp "$IT_WORK/c1.pem" "$IT_WORK/c1.crt"
serial=$(cert_serial "$IT_WORK/c1.crt")
scepd_stop

say "roll the CA over and activate the new one at once"
"$SCEPCTL" --state-dir "$SCEPD_STATE" ca rollover --in 0 >"$IT_WORK/roll.out" 2>&1 ||
    fail "scepctl ca rollover --in 0: $(cat "$IT_WORK/roll.out")"
cmp -s <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) \
    <(openssl x509 -in "$IT_WORK/ca1/ca.pem" -outform DER) && fail "the CA did not change"
ls "$SCEPD_STATE"/archive/*.key >/dev/null 2>&1 || fail "the rollover kept no archived CA key"

say "revoke the old CA's certificate $serial"
"$SCEPCTL" --state-dir "$SCEPD_STATE" revoke "$serial" --reason keyCompromise \
    >"$IT_WORK/revoke.out" 2>&1 || fail "scepctl revoke: $(cat "$IT_WORK/revoke.out")"

say "scepctl crl --ca previous: signed by the archived CA, lists the serial"
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --ca previous --out "$IT_WORK/old.crl" \
    >"$IT_WORK/crl.out" 2>&1 || fail "scepctl crl --ca previous: $(cat "$IT_WORK/crl.out")"
crl_signed_by PEM "$IT_WORK/old.crl" "$IT_WORK/ca1/ca.pem" ||
    fail "the previous CA's CRL does not verify against the old CA"
crl_signed_by PEM "$IT_WORK/old.crl" "$SCEPD_STATE/ca.crt" &&
    fail "the previous CA's CRL verifies against the new CA"
crl_lists PEM "$IT_WORK/old.crl" "$serial" ||
    fail "the previous CA's CRL does not list $serial"
grep -q 'Key Compromise' "$IT_WORK/old.crl.txt" ||
    fail "the previous CA's CRL does not give the reason"

say "openssl verify -crl_check with that CRL: revoked"
rc=0
openssl verify -crl_check -CAfile "$IT_WORK/ca1/ca.pem" -CRLfile "$IT_WORK/old.crl" \
    "$IT_WORK/c1.crt" >"$IT_WORK/verify.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "openssl verify accepted a revoked certificate: $(cat "$IT_WORK/verify.out")"
grep -q 'certificate revoked' "$IT_WORK/verify.out" ||
    fail "openssl verify did not say revoked: $(cat "$IT_WORK/verify.out")"

say "the new CA's CRL verifies against the new CA and does not list it"
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --out "$IT_WORK/new.crl" >/dev/null 2>"$IT_WORK/err" ||
    fail "scepctl crl: $(cat "$IT_WORK/err")"
crl_signed_by PEM "$IT_WORK/new.crl" "$SCEPD_STATE/ca.crt" ||
    fail "the current CA's CRL does not verify against the current CA"
crl_lists PEM "$IT_WORK/new.crl" "$serial" &&
    fail "the current CA's CRL lists the old CA's serial $serial"

say "scepctl crl --ca by fingerprint prefix picks the same CA; nonsense is refused"
fp=$(openssl x509 -in "$IT_WORK/ca1/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | cut -c1-16)
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --ca "$fp" --out "$IT_WORK/fp.crl" >/dev/null 2>"$IT_WORK/err" ||
    fail "scepctl crl --ca $fp: $(cat "$IT_WORK/err")"
crl_signed_by PEM "$IT_WORK/fp.crl" "$IT_WORK/ca1/ca.pem" ||
    fail "crl --ca FINGERPRINT was not signed by that CA"
rc=0
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --ca zz >/dev/null 2>"$IT_WORK/err" || rc=$?
[ "$rc" -eq 2 ] || fail "crl --ca zz exited $rc (want 2)"
rc=0
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --ca 0123456789abcdef >/dev/null 2>"$IT_WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "crl --ca with an unknown fingerprint exited $rc (want 1)"
grep -q 'no current or archived CA' "$IT_WORK/err" || fail "no reason for an unknown CA: $(cat "$IT_WORK/err")"

say "GetCRL naming the old CA's certificate answers the archived CA's CRL"
scepd_start crl --ca-rsa-bits 2048
"$SCEPC" getcrl --url "$SCEPD_URL" --key "$IT_WORK/k1.pem" --cert "$IT_WORK/c1.crt" \
    --out "$IT_WORK/got.crl" >"$IT_WORK/getcrl.out" 2>&1 ||
    fail "scepc getcrl: $(cat "$IT_WORK/getcrl.out")"
form=PEM
grep -q -- '-----BEGIN X509 CRL' "$IT_WORK/got.crl" || form=DER
crl_signed_by "$form" "$IT_WORK/got.crl" "$IT_WORK/ca1/ca.pem" ||
    fail "GetCRL's CRL is not the archived CA's"
crl_lists "$form" "$IT_WORK/got.crl" "$serial" ||
    fail "GetCRL's CRL does not list $serial"

say "a hold on a new-CA certificate: listed while held, gone after scepctl unhold"
fetch_ca_certs "$IT_WORK/ca2"
rsa_key "$IT_WORK/k2.pem"
sw_enroll "$IT_WORK/k2.pem" "$IT_WORK/c2.pem" "$IT_WORK/ca2" aes sha256 "CN=crl-new" \
    --password "$IT_CHALLENGE" || fail "enrollment under the new CA: $(cat "$IT_WORK/c2.pem.log")"
serial2=$(cert_serial "$IT_WORK/c2.pem")
"$SCEPCTL" --state-dir "$SCEPD_STATE" revoke "$serial2" --reason certificateHold >/dev/null 2>"$IT_WORK/err" ||
    fail "revoke --reason certificateHold: $(cat "$IT_WORK/err")"
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --out "$IT_WORK/held.crl" >/dev/null 2>&1 || fail "crl while held"
crl_lists PEM "$IT_WORK/held.crl" "$serial2" || fail "the CRL does not list the held $serial2"
grep -q 'Certificate Hold' "$IT_WORK/held.crl.txt" || fail "the held entry carries no certificateHold reason"
rc=0
"$SCEPCTL" --state-dir "$SCEPD_STATE" unhold "$serial" >/dev/null 2>"$IT_WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "unhold of a keyCompromise revocation exited $rc (want 1)"
grep -q 'not on hold' "$IT_WORK/err" || fail "no reason for refusing unhold: $(cat "$IT_WORK/err")"
"$SCEPCTL" --state-dir "$SCEPD_STATE" unhold "$serial2" >/dev/null 2>"$IT_WORK/err" ||
    fail "unhold: $(cat "$IT_WORK/err")"
"$SCEPCTL" --state-dir "$SCEPD_STATE" crl --out "$IT_WORK/released.crl" >/dev/null 2>&1 || fail "crl after unhold"
crl_lists PEM "$IT_WORK/released.crl" "$serial2" && fail "the CRL still lists $serial2 after unhold"
"$SCEPCTL" --state-dir "$SCEPD_STATE" --json show "$serial2" | grep -q '"status": "valid"' ||
    fail "$serial2 is not valid after unhold"

say "the audit trail holds the CRLs with their issuers and still verifies"
"$SCEPCTL" --state-dir "$SCEPD_STATE" --json audit >"$IT_WORK/audit.json" 2>/dev/null ||
    fail "scepctl audit failed"
n=$(grep -c '"kind": "crl"' "$IT_WORK/audit.json" || true)
[ "$n" -ge 5 ] || fail "expected at least 5 crl audit events, found $n"
grep -q '"kind": "unhold"' "$IT_WORK/audit.json" || fail "no unhold audit event"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null 2>&1 || fail "audit chain does not verify"
say "ok"
