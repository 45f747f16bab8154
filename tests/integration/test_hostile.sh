#!/usr/bin/env bash
# Hostile input against a running scepd.  hostile_gen (hostile.h) crafts
# pkiMessages encrypted to the CA certificate GetCACert returned: weak or
# keyless keys, names and subjectAltNames that parsers read differently,
# a CSR version 2, single DES, broken envelopes and signatures, hostile
# BER, renewals signed by a foreign, expired or revoked certificate.
# Each carries the right challenge, so only its one flaw stands between
# it and a certificate.  curl sends each (POST to /scep, /scep/pkiclient.exe
# and /cgi-bin/pkiclient.exe, some as GET); each must be answered as the
# table below says, a 4xx with its reason or a CertRep FAILURE signed by
# the CA for this request, with its failInfo and failInfoText.  Refused
# messages sent again get the same answer.  Then: nothing was issued (the
# store and the audit trail say so), scepd is alive and answers, and the
# same tool's sound enrollment and renewal still succeed.  HTTP oddities
# over raw sockets and curl come last: each a 4xx (an unknown method a
# 501), a stalled request closed at the read timeout, never a hang.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 sqlite3
: "${HOSTILE_GEN:?HOSTILE_GEN must name the hostile_gen program}"

# What each case must get: NAME|HTTP status|failInfo|failInfoText prefix
# (for a 4xx, text the reason body holds).
expect_table() {
    cat <<'EOF'
key-rsa-e1|200|badAlg|RSA public exponent must be odd, at least 65537
key-rsa-e3|200|badAlg|RSA public exponent must be odd, at least 65537
key-rsa-even-e|200|badAlg|RSA public exponent must be odd, at least 65537
key-rsa-small-factor|200|badAlg|RSA public key fails validation (SP 800-56B
key-rsa-1024|200|badAlg|RSA key of 1024 bits (accepted: 2048 to 8192)
key-ec-off-curve|200|badMessageCheck|certificate request signature does not verify (proof of possession)
key-ec-p224|200|badAlg|EC curve secp224r1 (accepted: P-256, P-384, P-521
name-cn-nul-utf8|200|badRequest|subject CN: control character or NUL in the value
name-cn-nul-printable|200|badRequest|subject CN: control character or NUL in the value
name-o-escape|200|badRequest|subject O: control character or NUL in the value
name-cn-c1-control|200|badRequest|subject CN: control character or NUL in the value
name-cn-printable-at|200|badRequest|subject CN: character outside the PrintableString set
name-c-three-letters|200|badRequest|subject C: countryName must be two letters
name-cn-bad-utf8|200|badRequest|decrypted messageData is not what the messageType requires
name-subject-is-ca|200|badRequest|subject is the name of this CA or its RA
csr-version-2|200|badRequest|CSR version 2, not v1 (RFC 2986 4.1)
san-ip-17-bytes|200|badRequest|subjectAltName 0: iPAddress of 17 bytes, not 4 or 16
san-dns-nul|200|badRequest|subjectAltName 0: dNSName is not a host name
san-dns-underscore|200|badRequest|subjectAltName 0: dNSName is not a host name
san-dns-empty-label|200|badRequest|subjectAltName 0: dNSName is not a host name
san-dns-wildcard|200|badRequest|subjectAltName 0: dNSName is not a host name (wildcards need allow_wildcard_dns)
san-email-two-at|200|badRequest|subjectAltName 0: rfc822Name is not local@domain
san-email-no-local|200|badRequest|subjectAltName 0: rfc822Name is not local@domain
san-uri-space|200|badRequest|subjectAltName 0: URI without a scheme or with spaces or controls
san-uri-no-scheme|200|badRequest|subjectAltName 0: URI without a scheme or with spaces or controls
san-upn-bad-utf8|200|badRequest|subjectAltName 0 UPN: invalid UTF8STRING encoding
env-single-des|200|badAlg|content cipher DES-CBC not accepted: single DES is disabled
env-truncated|400||malformed pkiMessage: messageData is not a CMS EnvelopedData
env-corrupt-key|200|badMessageCheck|message cannot be decrypted with the CA/RA key
env-wrong-recipient|200|badMessageCheck|message cannot be decrypted with the CA/RA key
env-csr-trailing-bytes|200|badRequest|decrypted messageData is not what the messageType requires
env-csr-huge-length|200|badRequest|decrypted messageData is not what the messageType requires
sig-flipped|200|badMessageCheck|message signature does not verify
sig-cert-other-key|200|badMessageCheck|message signature does not verify
sig-econtent-enveloped|200|badRequest|SignedData eContentType is not id-data (RFC 8894 3.2)
sig-ec-signer|200|badAlg|signer certificate key must be RSA
ber-indefinite|200|badAlg|RSA key of 1024 bits (accepted: 2048 to 8192)
ber-deep-nesting|400||malformed pkiMessage: message is not valid DER/BER
ber-trailing-garbage|400||malformed pkiMessage: trailing bytes after the message
ber-huge-length|400||malformed pkiMessage: message is not valid DER/BER
renew-foreign-ca|200|badRequest|signer certificate was not issued by this CA
renew-expired|200|badTime|signer certificate is expired or not yet valid
renew-revoked|200|badRequest|signer certificate @REVOKED@ is revoked
EOF
}

# Two workers: a refused message is remembered for the whole process, so
# a replay is answered from memory whichever worker takes it.
scepd_start hostile --read-timeout 2 --workers 2
base=${SCEPD_URL%/*}
hostport=${base#http://}
CA=$IT_WORK/ca
D=$IT_WORK/cases
mkdir -p "$D"
fetch_ca_certs "$CA"
tried=0

# send FILE URL [get]: POSTs FILE (or GETs it base64 in message=); sets
# ST and CT, the answer goes to FILE.rep.
send() {
    local f=$1 url=$2 how=${3:-post} b64
    if [ "$how" = get ]; then
        b64=$(openssl base64 -A -in "$f" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
        read -r ST CT < <(curl -sS -m 20 -o "$f.rep" -w '%{http_code} %{content_type}\n' \
            "$url&message=$b64") || fail "curl GET of $f failed"
    else
        read -r ST CT < <(curl -sS -m 20 -o "$f.rep" -w '%{http_code} %{content_type}\n' \
            -H 'Content-Type: application/x-pki-message' --data-binary "@$f" "$url") ||
            fail "curl POST of $f failed"
    fi
}

# answer FILE [SIGNER KEY OUT]: the CertRep FILE.rep decoded against the
# CA's signing certificate and FILE's transactionID and senderNonce.
answer() {
    local f=$1
    shift
    "$HOSTILE_GEN" answer "$f" "$f.rep" "$CA/sig.der" "$@" 2>"$f.answer.err" ||
        fail "$(basename "$f" .der): the answer is not a CertRep for it: $(cat "$f.answer.err")"
}

# enroll NAME: a sound PKCSReq from hostile_gen, which must be issued.
enroll() {
    local a
    "$HOSTILE_GEN" enroll "$D" "$1" "$CA/enc.der" "$IT_CHALLENGE" >/dev/null ||
        fail "hostile_gen enroll $1"
    send "$D/$1.der" "$SCEPD_URL?operation=PKIOperation"
    [ "$ST" = 200 ] || fail "sound enrollment $1: HTTP $ST: $(head -c 200 "$D/$1.der.rep")"
    a=$(answer "$D/$1.der" "$D/$1.signer" "$D/$1.key" "$D/$1.crt")
    [ "$a" = SUCCESS ] || fail "sound enrollment $1 answered '$a'"
    check_stored "$D/$1.crt"
    check_verifies "$D/$1.crt" "$CA/ca.pem"
}

# counts: certificates, and audit events of a kind
n_certs() { store_sql "SELECT count(*) FROM certificates;"; }
n_events() { store_sql "SELECT count(*) FROM audit WHERE kind = '$1';"; }

say "two sound enrollments by hostile_gen itself: one to renew with later, one to revoke"
enroll good-a
enroll good-b
revoked=$(cert_serial "$D/good-b.crt")
"$SCEPCTL" --state-dir "$SCEPD_STATE" revoke "$revoked" --reason keyCompromise \
    >"$IT_WORK/revoke.out" 2>&1 || fail "scepctl revoke: $(cat "$IT_WORK/revoke.out")"

say "hostile_gen crafts the cases"
"$HOSTILE_GEN" cases "$D" "$CA/enc.der" "$CA/ca.pem" "$SCEPD_STATE/ca.key" "$IT_CHALLENGE" \
    >"$D/names" 2>"$D/gen.err" || fail "hostile_gen cases: $(cat "$D/gen.err")"
"$HOSTILE_GEN" renew "$D" renew-revoked "$CA/enc.der" "$D/good-b.crt" "$D/good-b.key" \
    >>"$D/names" 2>>"$D/gen.err" || fail "hostile_gen renew: $(cat "$D/gen.err")"
expect_table | sed "s/@REVOKED@/$revoked/" >"$D/expect"
# every case made has its expectation, and every expectation its case
cut -d'|' -f1 "$D/expect" | sort >"$D/want"
sort "$D/names" >"$D/have"
cmp -s "$D/want" "$D/have" ||
    fail "cases and expectations differ: $(diff "$D/want" "$D/have" | grep '^[<>]' | tr '\n' ' ')"

certs0=$(n_certs)
issued0=$(n_events issue)
refused0=$(n_events refuse)
[ "$certs0" = 2 ] || fail "the store holds $certs0 certificates before the cases (want 2)"

say "each case gets its 4xx or its signed CertRep FAILURE"
urls=("$SCEPD_URL?operation=PKIOperation" "$SCEPD_URL/pkiclient.exe?operation=PKIOperation"
      "$base/cgi-bin/pkiclient.exe?operation=PKIOperation")
i=0
failures=0
while IFS='|' read -r name status info text; do
    f=$D/$name.der
    how=post
    [ $((i % 4)) = 3 ] && how=get
    send "$f" "${urls[$((i % 3))]}" "$how"
    i=$((i + 1))
    tried=$((tried + 1))
    [ "$ST" = "$status" ] || fail "$name ($how): HTTP $ST, want $status: $(head -c 300 "$f.rep")"
    if [ "$status" = 200 ]; then
        [ "$CT" = application/x-pki-message ] || fail "$name: Content-Type '$CT'"
        a=$(answer "$f")
        case $a in
            "FAILURE $info $text"*) ;;
            *) fail "$name: answered '$a', want 'FAILURE $info $text...'" ;;
        esac
        failures=$((failures + 1))
    else
        grep -qF -- "$text" "$f.rep" || fail "$name: HTTP $ST with '$(head -c 300 "$f.rep")', want '$text'"
    fi
done <"$D/expect"

say "refused messages sent again get the very same answer, from memory, on either worker"
# Each send is a new connection, which either worker may accept: with a
# memory per worker, some of these 16 would be signed afresh.
replays=0
for name in key-rsa-e1 san-ip-17-bytes env-single-des renew-revoked; do
    f=$D/$name.der
    cp "$f.rep" "$f.first"
    for k in 1 2 3 4; do
        send "$f" "$SCEPD_URL?operation=PKIOperation"
        tried=$((tried + 1))
        replays=$((replays + 1))
        cmp -s "$f.rep" "$f.first" || fail "$name sent again ($k): a different answer (HTTP $ST)"
    done
done
f=$D/ber-trailing-garbage.der
cp "$f.rep" "$f.first"
send "$f" "$SCEPD_URL?operation=PKIOperation"
tried=$((tried + 1))
cmp -s "$f.rep" "$f.first" || fail "ber-trailing-garbage sent again: a different answer (HTTP $ST)"
n=0
for k in $(seq 1 50); do
    n=$(grep -c 'a replay, answered from memory' "$SCEPD_LOG")
    [ "$n" -ge "$replays" ] && break
    sleep 0.1
done
[ "$n" = "$replays" ] || fail "$n of $replays replays were answered from memory"

say "nothing was issued; each FAILURE is one refuse event; scepd is alive and serves"
[ "$(n_certs)" = "$certs0" ] || fail "the store holds $(n_certs) certificates after the cases, $certs0 before"
[ "$(n_events issue)" = "$issued0" ] || fail "issue events went from $issued0 to $(n_events issue)"
[ "$(n_events refuse)" = $((refused0 + failures)) ] ||
    fail "refuse events went from $refused0 to $(n_events refuse) for $failures FAILUREs"
"$SCEPCTL" --state-dir "$SCEPD_STATE" list >"$IT_WORK/list.out" 2>&1 || fail "scepctl list: $(cat "$IT_WORK/list.out")"
[ "$(grep -c 'CN=' "$IT_WORK/list.out")" = 2 ] || fail "scepctl list: $(cat "$IT_WORK/list.out")"
grep -q hostile "$IT_WORK/list.out" && fail "scepctl list shows a hostile subject: $(cat "$IT_WORK/list.out")"
kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd died"
caps=$(curl -sS -m 5 "$SCEPD_URL?operation=GetCACaps") || fail "GetCACaps failed after the cases"
case $caps in *AES*) ;; *) fail "GetCACaps after the cases: '$caps'" ;; esac

say "HTTP oddities: each a 4xx (an unknown method 501), a stalled request closed, no hang"
# raw CASE: sends a crafted request on its own connection and prints the
# status line's code, or "closed" when the server closed without one,
# and the seconds it took.
raw() {
    python3 - "$hostport" "$1" <<'PY'
import select, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
case = sys.argv[2]
s = socket.create_connection((host, int(port)), timeout=15)
t = time.time()
line = b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n"
try:
    if case == "huge-header":
        s.sendall(line + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n")
    elif case == "many-headers":
        s.sendall(line + b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n")
    elif case == "endless-line":
        # a request line that never ends: bytes until the server answers
        s.sendall(b"GET /scep?operation=GetCACaps")
        for _ in range(1024):
            if select.select([s], [], [], 0)[0]:
                break
            s.sendall(b"A" * 1024)
    elif case == "stalled-line":
        s.sendall(b"GET /scep?operation=GetCA")
    elif case == "unknown-method":
        s.sendall(b"BREW /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n\r\n")
    elif case == "binary-garbage":
        s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)) + b"\r\n\r\n")
    elif case == "bad-version":
        s.sendall(b"GET /scep?operation=GetCACaps HTTP/9.9\r\nHost: x\r\n\r\n")
    elif case == "lying-length":
        s.sendall(b"POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 99999999999999999999\r\n\r\nabc")
    elif case == "short-body":
        s.sendall(b"POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1000\r\n\r\nabc")
except OSError:
    pass  # the server may close while we still send: the answer counts
out = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
except (socket.timeout, OSError):
    out += b"" if out else b"TIMEOUT"
code = out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/1.") else ("timeout" if out == b"TIMEOUT" else "closed")
print(code, int(time.time() - t))
PY
}
while read -r rc want; do
    read -r got secs < <(raw "$rc")
    tried=$((tried + 1))
    [ "$got" = "$want" ] || fail "raw $rc: got '$got' after ${secs}s, want '$want'"
    [ "$secs" -le 5 ] || fail "raw $rc: took ${secs}s (the read timeout is 2 s)"
done <<'EOF'
huge-header 400
many-headers 400
endless-line 400
stalled-line closed
unknown-method 501
binary-garbage 400
bad-version 400
lying-length 413
short-body closed
EOF
# curlcase NAME WANT [curl args...]: one request, its status and a body
curlcase() {
    local name=$1 want=$2 st
    shift 2
    st=$(curl -sS -m 10 -o "$IT_WORK/odd.body" -w '%{http_code}' "$@") || fail "curl $name failed"
    tried=$((tried + 1))
    [ "$st" = "$want" ] || fail "$name: HTTP $st, want $want: $(head -c 200 "$IT_WORK/odd.body")"
    [ -s "$IT_WORK/odd.body" ] || fail "$name: HTTP $st without a reason"
}
head -c 70000 /dev/urandom >"$IT_WORK/big.bin"
curlcase bad-percent-message 400 "$SCEPD_URL?operation=PKIOperation&message=%ZZ%4"
curlcase not-base64-message 400 "$SCEPD_URL?operation=PKIOperation&message=%21%21not-base64%21%21"
curlcase unknown-operation 400 "$SCEPD_URL?operation=Frobnicate&message=x"
curlcase bad-percent-operation 400 "$SCEPD_URL?operation=GetCA%G1Caps"
curlcase known-method-put 405 -X PUT --data-binary x "$SCEPD_URL?operation=GetCACaps"
curlcase body-over-limit 413 -H 'Content-Type: application/x-pki-message' \
    --data-binary "@$IT_WORK/big.bin" "$SCEPD_URL?operation=PKIOperation"
curlcase chunked-over-limit 413 -H 'Transfer-Encoding: chunked' \
    --data-binary "@$IT_WORK/big.bin" "$SCEPD_URL?operation=PKIOperation"
kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd died on the HTTP oddities"

say "controls: a sound enrollment and a sound renewal by the same tool still succeed"
enroll good-c
"$HOSTILE_GEN" renew "$D" renew-good "$CA/enc.der" "$D/good-a.crt" "$D/good-a.key" >/dev/null ||
    fail "hostile_gen renew"
send "$D/renew-good.der" "$SCEPD_URL?operation=PKIOperation"
[ "$ST" = 200 ] || fail "sound renewal: HTTP $ST"
a=$(answer "$D/renew-good.der" "$D/good-a.crt" "$D/good-a.key" "$D/renew-good.crt")
[ "$a" = SUCCESS ] || fail "sound renewal answered '$a'"
check_stored "$D/renew-good.crt"
[ "$(n_certs)" = $((certs0 + 2)) ] || fail "the store holds $(n_certs) certificates, want $((certs0 + 2))"

scepd_stop
say "hostile: $tried cases, all refused"
