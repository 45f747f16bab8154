#!/usr/bin/env bash
# scepd's TLS listener and route table, with real clients: openssl makes a
# server certificate for 127.0.0.1; scepd serves plain HTTP and TLS at
# once; curl --cacert reads GetCACaps over https; openssl s_client and
# curl --tls-max 1.1 are refused; with tls_client_verify = require a
# connection without a client certificate (or with one of another CA)
# fails and one with a certificate of tls_client_ca succeeds, which the
# request log shows; micromdm's scepclient and scepc enroll over https.
# Start-up refuses a missing certificate, a key that is not the
# certificate's, and incomplete [tls] keys.  HEAD (curl -I) is answered
# with the GET's headers and Content-Length and no body, DELETE with 405
# and Allow.
. "$(dirname "$0")/lib.sh"
need curl openssl python3 scepclient

pki=$IT_WORK/pki
mkdir -p "$pki"

# mkcert NAME ISSUER_NAME EXT...: key NAME.key and certificate NAME.crt
# issued by ISSUER_NAME (itself when "self"), extensions as -addext lines.
mkcert() {
    local name=$1 issuer=$2 cn=$3
    shift 3
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
    chmod 600 "$pki/$name.key"
    if [ "$issuer" = self ]; then
        openssl req -x509 -new -key "$pki/$name.key" -subj "/CN=$cn" -days 2 -sha256 \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
            -out "$pki/$name.crt" 2>/dev/null || fail "cannot make CA $name"
    else
        openssl req -new -key "$pki/$name.key" -subj "/CN=$cn" -out "$pki/$name.csr" 2>/dev/null
        printf '%s\n' "$@" >"$pki/$name.ext"
        openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$issuer.crt" -CAkey "$pki/$issuer.key" \
            -CAcreateserial -days 2 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" \
            2>/dev/null || fail "cannot make certificate $name"
    fi
}

say "openssl makes a TLS CA, a server certificate for 127.0.0.1 and client certificates"
mkcert tlsca self "scepd test TLS CA"
mkcert server tlsca "127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature"
mkcert clientca self "scepd test client CA"
mkcert client clientca "device-42" "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature"
mkcert rogueca self "some other CA"
mkcert rogue rogueca "device-rogue" "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature"
mkcert other tlsca "127.0.0.1" "subjectAltName=IP:127.0.0.1"

# scepd_refuses NAME WANT ARGS...: scepd must exit non-zero without
# serving and say WANT on stderr.
scepd_refuses() {
    local name=$1 want=$2 rc=0
    shift 2
    timeout 20 "$SCEPD" --state-dir "$IT_WORK/$name" --listen 127.0.0.1:0 \
        --challenge "$IT_CHALLENGE" "$@" >"$IT_WORK/$name.out" 2>"$IT_WORK/$name.err" || rc=$?
    [ "$rc" -ne 0 ] || fail "$name: scepd started (args: $*)"
    grep -q 'serving SCEP' "$IT_WORK/$name.out" && fail "$name: scepd served (args: $*)"
    grep -q -- "$want" "$IT_WORK/$name.err" ||
        fail "$name: stderr lacks '$want': $(tail -n 3 "$IT_WORK/$name.err")"
}

say "start-up refuses a missing certificate, a mismatched key, incomplete [tls] keys"
scepd_refuses nocert "tls_cert $pki/missing.crt: No such file" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/missing.crt" --tls-key "$pki/server.key"
scepd_refuses mismatch "does not match tls_cert" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/server.crt" --tls-key "$pki/other.key"
scepd_refuses nokey "tls_listen needs tls_cert and tls_key" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/server.crt"
scepd_refuses nolisten "tls_cert is set but tls_listen is not" --tls-cert "$pki/server.crt"
scepd_refuses noca "needs tls_client_ca" --tls-listen 127.0.0.1:0 --tls-cert "$pki/server.crt" \
    --tls-key "$pki/server.key" --tls-client-verify require
cp "$pki/server.key" "$pki/open.key"
chmod 644 "$pki/open.key"
scepd_refuses openkey "readable or writable by others" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/server.crt" --tls-key "$pki/open.key"
cp "$pki/server.crt" "$pki/garbage.key"
chmod 600 "$pki/garbage.key"
scepd_refuses badkey "not an unencrypted PEM private key" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/server.crt" --tls-key "$pki/garbage.key"
# An encrypted key is refused at once, never a passphrase prompt.
openssl pkey -in "$pki/server.key" -aes256 -passout pass:secret -out "$pki/enc.key"
chmod 600 "$pki/enc.key"
scepd_refuses enckey "not an unencrypted PEM private key" --tls-listen 127.0.0.1:0 \
    --tls-cert "$pki/server.crt" --tls-key "$pki/enc.key" </dev/null

# tls_url: the https URL from the current scepd's second ready line.
tls_url() {
    local out=$IT_WORK/$1.scepd.out line i
    for i in $(seq 1 50); do
        line=$(grep -m1 '^scepd: serving SCEP over TLS at ' "$out" || true)
        [ -n "$line" ] && break
        sleep 0.1
    done
    TLS_URL=${line#scepd: serving SCEP over TLS at }
    case $TLS_URL in https://127.0.0.1:*/scep) ;; *) fail "no TLS ready line: '$line'" ;; esac
    TLS_HOSTPORT=${TLS_URL#https://}
    TLS_HOSTPORT=${TLS_HOSTPORT%%/*}
}

say "scepd serves plain HTTP and TLS at once"
# micromdm scepclient 2.1.0 always sends single DES (scep-interop.md 2),
# which scepd accepts only with allow_des.
scepd_start tls --tls-listen 127.0.0.1:0 --tls-cert "$pki/server.crt" --tls-key "$pki/server.key" \
    --allow-des true
tls_url tls
base=${SCEPD_URL%/scep}
tbase=${TLS_URL%/scep}
say "TLS listener at $TLS_URL"

say "GetCACaps over https (curl --cacert) equals the plain answer"
curl -sS --fail -o "$IT_WORK/caps.plain" "$SCEPD_URL?operation=GetCACaps" || fail "plain GetCACaps failed"
curl -sS --fail --cacert "$pki/tlsca.crt" -o "$IT_WORK/caps.tls" "$TLS_URL?operation=GetCACaps" ||
    fail "GetCACaps over https failed"
cmp -s "$IT_WORK/caps.plain" "$IT_WORK/caps.tls" || fail "GetCACaps differs between http and https"
grep -q POSTPKIOperation "$IT_WORK/caps.tls" || fail "https GetCACaps lacks POSTPKIOperation"
curl -sS --fail --cacert "$pki/tlsca.crt" -o "$IT_WORK/ca.der" "$TLS_URL?operation=GetCACert" ||
    fail "GetCACert over https failed"
cmp -s "$IT_WORK/ca.der" <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) ||
    fail "GetCACert over https is not ca.crt"
curl -sS -o /dev/null --cacert "$pki/rogueca.crt" "$TLS_URL?operation=GetCACaps" 2>/dev/null &&
    fail "curl trusted scepd's certificate with the wrong CA file"

say "TLS 1.1 and below are refused; TLS 1.2 and 1.3 are served"
if curl -sS -o /dev/null --cacert "$pki/tlsca.crt" --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' \
    "$TLS_URL?operation=GetCACaps" 2>"$IT_WORK/tls11.err"; then
    fail "curl --tls-max 1.1 got an answer"
fi
openssl s_client -connect "$TLS_HOSTPORT" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
    </dev/null >"$IT_WORK/s11.out" 2>&1 && fail "openssl s_client -tls1_1 completed a handshake"
# The server's alert, not a client that could not offer TLS 1.1.
grep -qi 'alert protocol version' "$IT_WORK/s11.out" ||
    fail "s_client -tls1_1 failed without the server's protocol_version alert: $(tail -n 3 "$IT_WORK/s11.out")"
for v in 1_2 1_3; do
    openssl s_client -connect "$TLS_HOSTPORT" -tls$v -CAfile "$pki/tlsca.crt" -verify_return_error \
        </dev/null >"$IT_WORK/s$v.out" 2>&1 || fail "openssl s_client -tls$v failed: $(tail -n 3 "$IT_WORK/s$v.out")"
done
grep -q 'Cipher is ECDHE' "$IT_WORK/s1_2.out" || grep -Eq 'Cipher *: *ECDHE' "$IT_WORK/s1_2.out" ||
    fail "TLS 1.2 did not negotiate an ECDHE suite: $(grep -i cipher "$IT_WORK/s1_2.out" | head -n 2)"
if openssl s_client -connect "$TLS_HOSTPORT" -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA' \
    </dev/null >"$IT_WORK/srsa.out" 2>&1; then
    fail "TLS 1.2 accepted a CBC suite (ECDHE-ECDSA-AES128-SHA)"
fi

# head_check URL CURLARGS...: HEAD answers 200 with the GET's
# Content-Length and sends no body (read to the end of a closed
# connection by python, plain or TLS).
head_check() {
    local url=$1 glen hlen
    shift
    curl -sS --fail "$@" -o "$IT_WORK/get.body" "$url" || fail "GET $url failed"
    glen=$(wc -c <"$IT_WORK/get.body")
    curl -sS --fail -I "$@" "$url" >"$IT_WORK/head.hdr" || fail "curl -I $url failed"
    head -n1 "$IT_WORK/head.hdr" | grep -q ' 200' || fail "HEAD $url: $(head -n1 "$IT_WORK/head.hdr")"
    hlen=$(tr -d '\r' <"$IT_WORK/head.hdr" | awk -F': ' 'tolower($1)=="content-length"{print $2}')
    # /metrics counts the GET just made, so its length may grow by a digit.
    case $url in
        */metrics) [ -n "$hlen" ] && [ "$hlen" -ge "$glen" ] && [ "$hlen" -le $((glen + 4)) ] ||
            fail "HEAD $url: Content-Length '$hlen', GET body $glen bytes" ;;
        *) [ "$hlen" = "$glen" ] || fail "HEAD $url: Content-Length '$hlen', GET body $glen bytes" ;;
    esac
    python3 - "$url" "$pki/tlsca.crt" <<'PY' || fail "HEAD $url sent a body"
import socket, ssl, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), timeout=10)
if u.scheme == "https":
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    s = ctx.wrap_socket(s, server_hostname=u.hostname)
target = u.path + ("?" + u.query if u.query else "")
s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
data = b""
while True:
    try:
        b = s.recv(4096)
    except ssl.SSLError:
        break
    if not b:
        break
    data += b
head, sep, rest = data.partition(b"\r\n\r\n")
sys.exit(0 if sep and rest == b"" and b" 200 " in head.split(b"\r\n")[0] else 1)
PY
}

say "HEAD (curl -I) on GetCACaps, /healthz and /metrics: 200, the GET's Content-Length, no body"
for u in "$SCEPD_URL?operation=GetCACaps" "$base/healthz" "$base/metrics"; do
    head_check "$u"
done
for u in "$TLS_URL?operation=GetCACaps" "$tbase/healthz" "$tbase/metrics"; do
    head_check "$u" --cacert "$pki/tlsca.crt"
done

say "DELETE gets 405 with Allow; HEAD PKIOperation gets 405; unknown path 404"
for u in "$SCEPD_URL?operation=GetCACaps" "$TLS_URL?operation=GetCACaps"; do
    curl -sS --cacert "$pki/tlsca.crt" -X DELETE -D "$IT_WORK/del.hdr" -o "$IT_WORK/del.body" "$u" ||
        fail "DELETE $u: curl failed"
    head -n1 "$IT_WORK/del.hdr" | grep -q ' 405' || fail "DELETE $u: $(head -n1 "$IT_WORK/del.hdr")"
    tr -d '\r' <"$IT_WORK/del.hdr" | grep -qi '^allow: GET, HEAD, POST$' ||
        fail "DELETE $u: Allow header: $(grep -i '^allow' "$IT_WORK/del.hdr")"
    [ "$(wc -l <"$IT_WORK/del.body")" -eq 1 ] || fail "DELETE $u: want a one-line reason"
done
curl -sS -X POST -D "$IT_WORK/post.hdr" -o /dev/null "$base/metrics"
head -n1 "$IT_WORK/post.hdr" | grep -q ' 405' || fail "POST /metrics: $(head -n1 "$IT_WORK/post.hdr")"
tr -d '\r' <"$IT_WORK/post.hdr" | grep -qi '^allow: GET, HEAD$' || fail "POST /metrics: no 'Allow: GET, HEAD'"
st=$(curl -sS -I -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=PKIOperation&message=AAAA")
[ "$st" = 405 ] || fail "HEAD PKIOperation: status $st (want 405)"
st=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/tlsca.crt" "$tbase/nope")
[ "$st" = 404 ] || fail "https /nope: status $st (want 404)"

say "micromdm scepclient enrolls over https (trusting the TLS CA through SSL_CERT_FILE)"
SSL_CERT_FILE=$pki/tlsca.crt MM_URL=$TLS_URL mm_enroll mmtls ||
    fail "scepclient over https failed: $(tail -n 5 "$IT_WORK/mmtls/log")"
check_verifies "$IT_WORK/mmtls/cert.pem" "$SCEPD_STATE/ca.crt"
check_stored "$IT_WORK/mmtls/cert.pem"

if [ -n "${SCEPC:-}" ] && [ -x "$SCEPC" ]; then
    say "scepc enrolls over https with --ca-bundle"
    "$SCEPC" enroll --url "$TLS_URL" --ca-bundle "$pki/tlsca.crt" --challenge "$IT_CHALLENGE" \
        --subject CN=scepc-tls --key "$IT_WORK/scepc.key" --cert "$IT_WORK/scepc.crt" \
        --fingerprint "$(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)" \
        >"$IT_WORK/scepc.log" 2>&1 || fail "scepc enroll over https failed: $(tail -n 5 "$IT_WORK/scepc.log")"
    check_verifies "$IT_WORK/scepc.crt" "$SCEPD_STATE/ca.crt"
    check_stored "$IT_WORK/scepc.crt"
fi

say "the TLS requests were logged and counted like the plain ones"
grep -q 'msg=listening.*tls=true' "$SCEPD_LOG" || fail "no log line for the TLS listener"
grep -q 'msg=request method=POST .*op=PKIOperation.*status=200.*outcome=success' "$SCEPD_LOG" ||
    fail "no logged PKIOperation success"
curl -sS "$base/metrics" >"$IT_WORK/metrics"
n=$(awk '/^scepd_requests_total\{/ && /PKIOperation/ && /success/ {s += $NF} END {print s + 0}' "$IT_WORK/metrics")
[ "${n%.*}" -ge 1 ] || fail "/metrics counts no successful PKIOperation"
scepd_stop

say "tls_client_verify = require (config file): no client certificate, no answer"
cat >"$IT_WORK/require.conf" <<EOF
[tls]
tls_listen = 127.0.0.1:0
tls_cert = $pki/server.crt
tls_key = $pki/server.key
tls_client_ca = $pki/clientca.crt
tls_client_verify = require
EOF
scepd_start req --config "$IT_WORK/require.conf"
tls_url req
if curl -sS -o /dev/null --cacert "$pki/tlsca.crt" "$TLS_URL?operation=GetCACaps" 2>"$IT_WORK/nocert.err"; then
    fail "a request without a client certificate was answered"
fi
if curl -sS -o /dev/null --cacert "$pki/tlsca.crt" --cert "$pki/rogue.crt" --key "$pki/rogue.key" \
    "$TLS_URL?operation=GetCACaps" 2>"$IT_WORK/rogue.err"; then
    fail "a client certificate of another CA was accepted"
fi
st=$(curl -sS -o "$IT_WORK/caps.client" -w '%{http_code}' --cacert "$pki/tlsca.crt" \
    --cert "$pki/client.crt" --key "$pki/client.key" "$TLS_URL?operation=GetCACaps") ||
    fail "the request with a client certificate of tls_client_ca failed"
[ "$st" = 200 ] || fail "with a client certificate: status $st"
grep -q 'msg=request.*op=GetCACaps.*status=200.*client_subject=.*CN=device-42' "$SCEPD_LOG" ||
    fail "the request log does not show the verified client certificate"
curl -sS --fail -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "plain listener broken beside a require TLS listener"
scepd_stop

say "tls_client_verify = optional: with or without a certificate, never with a bad one"
scepd_start opt --tls-listen 127.0.0.1:0 --tls-cert "$pki/server.crt" --tls-key "$pki/server.key" \
    --tls-client-ca "$pki/clientca.crt" --tls-client-verify optional
tls_url opt
curl -sS --fail -o /dev/null --cacert "$pki/tlsca.crt" "$TLS_URL?operation=GetCACaps" ||
    fail "optional: a request without a client certificate failed"
curl -sS --fail -o /dev/null --cacert "$pki/tlsca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
    "$TLS_URL?operation=GetCACaps" || fail "optional: a request with a good client certificate failed"
if curl -sS -o /dev/null --cacert "$pki/tlsca.crt" --cert "$pki/rogue.crt" --key "$pki/rogue.key" \
    "$TLS_URL?operation=GetCACaps" 2>/dev/null; then
    fail "optional: a client certificate of another CA was accepted"
fi
grep -q 'op=GetCACaps.*status=200.*client_subject=.*CN=device-42' "$SCEPD_LOG" ||
    fail "optional: the client certificate did not reach the request"
scepd_stop
