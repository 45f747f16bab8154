#!/usr/bin/env bash
# scepd's HTTP surface, checked with curl: GetCACaps keywords, GetCACert
# with a client's CA identifier in message= (RFC 8894 4.2: ignored),
# errors as 4xx with a one-line text reason, garbage PKIOperation, the
# health and metrics endpoints, HTTP/1.0 without Host, methods.
. "$(dirname "$0")/lib.sh"
need curl openssl

scepd_start http
base=${SCEPD_URL%/*}   # http://127.0.0.1:PORT

# req METHOD URL [curl args]: sets ST (status), CT (content type), BODY file.
req() {
    local m=$1 u=$2
    shift 2
    BODY=$IT_WORK/body
    read -r ST CT < <(curl -sS -X "$m" -o "$BODY" -w '%{http_code} %{content_type}\n' "$@" "$u") ||
        fail "curl $m $u failed"
}

say "GetCACaps lists SHA-384, POSTPKIOperation, AES, SHA-256, Renewal"
req GET "$SCEPD_URL?operation=GetCACaps"
[ "$ST" = 200 ] || fail "GetCACaps status $ST"
case $CT in text/plain*) ;; *) fail "GetCACaps Content-Type '$CT'" ;; esac
for kw in SHA-384 POSTPKIOperation AES SHA-256 Renewal; do
    tr -d '\r' <"$BODY" | grep -qx "$kw" || fail "GetCACaps lacks $kw: $(tr '\n' ' ' <"$BODY")"
done

say "GetCACert answers the CA certificate, with or without message="
for q in "operation=GetCACert" "operation=GetCACert&message=CAIdentifier" "operation=GetCACert&message=0" "message=whatever&operation=GetCACert"; do
    req GET "$SCEPD_URL?$q"
    [ "$ST" = 200 ] || fail "GET ?$q: status $ST"
    [ "$CT" = application/x-x509-ca-cert ] || fail "GET ?$q: Content-Type '$CT'"
    openssl x509 -inform DER -in "$BODY" -noout 2>/dev/null || fail "GET ?$q: body is not a DER certificate"
    cmp -s "$BODY" <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) ||
        fail "GET ?$q: not the CA certificate in ca.crt"
done

say "other paths under the prefix and /cgi-bin/pkiclient.exe serve SCEP too"
for u in "$SCEPD_URL/pkiclient.exe" "$base/cgi-bin/pkiclient.exe"; do
    req GET "$u?operation=GetCACaps"
    [ "$ST" = 200 ] || fail "GET $u?operation=GetCACaps: status $ST"
done

say "unknown and missing operations: 400 with a one-line reason"
for q in "operation=NoSuchOp" "" "foo=bar"; do
    req GET "$SCEPD_URL?$q"
    [ "$ST" = 400 ] || fail "GET ?$q: status $ST (want 400)"
    [ -s "$BODY" ] && [ "$(wc -l <"$BODY")" -le 1 ] || fail "GET ?$q: want a one-line reason, got '$(cat "$BODY")'"
    case $CT in text/plain*) ;; *) fail "GET ?$q: error Content-Type '$CT'" ;; esac
done

say "garbage PKIOperation POST: 400"
head -c 300 /dev/urandom >"$IT_WORK/garbage"
req POST "$SCEPD_URL?operation=PKIOperation" --data-binary "@$IT_WORK/garbage" -H 'Content-Type: application/x-pki-message'
[ "$ST" = 400 ] || fail "garbage PKIOperation: status $ST (want 400)"
[ -s "$BODY" ] || fail "garbage PKIOperation: empty error body"
req POST "$SCEPD_URL?operation=PKIOperation" --data-binary ''
[ "$ST" = 400 ] || fail "empty PKIOperation: status $ST (want 400)"

say "PKIOperation by GET: no message, or undecodable base64 -> 400"
req GET "$SCEPD_URL?operation=PKIOperation"
[ "$ST" = 400 ] || fail "GET PKIOperation without message: status $ST (want 400)"
req GET "$SCEPD_URL?operation=PKIOperation&message=%25%25%25!!!"
[ "$ST" = 400 ] || fail "GET PKIOperation with bad base64: status $ST (want 400)"
req GET "$SCEPD_URL?operation=PKIOperation&message=$(head -c 200 /dev/urandom | openssl base64 -A | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')"
[ "$ST" = 400 ] || fail "GET PKIOperation with random DER: status $ST (want 400)"

say "unknown path: 404; other methods: 405"
req GET "$base/nope"
[ "$ST" = 404 ] || fail "GET /nope: status $ST (want 404)"
req DELETE "$SCEPD_URL?operation=GetCACaps"
[ "$ST" = 405 ] || fail "DELETE: status $ST (want 405)"

say "/healthz answers 200"
req GET "$base/healthz"
[ "$ST" = 200 ] || fail "/healthz status $ST"

say "HTTP/1.0 without a Host header works (Cisco)"
resp=$(python3 - "${base#http://}" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.0\r\n\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.split(b"\r\n", 1)[0].decode())
print("content-length" in data.split(b"\r\n\r\n", 1)[0].decode().lower())
PY
)
case $resp in "HTTP/1."?" 200"*True) ;; *) fail "HTTP/1.0 request without Host: '$resp'" ;; esac

say "/metrics counts requests (scepd_requests_total) in Prometheus text"
req GET "$base/metrics"
[ "$ST" = 200 ] || fail "/metrics status $ST"
grep -q '^scepd_requests_total{' "$BODY" || fail "/metrics has no scepd_requests_total sample"
grep -q '^# TYPE scepd_requests_total counter' "$BODY" || fail "/metrics lacks '# TYPE scepd_requests_total counter'"
n=$(awk '/^scepd_requests_total\{/ && /GetCACaps/ {s += $NF} END {print s + 0}' "$BODY")
[ "${n%.*}" -ge 4 ] || fail "/metrics counts $n GetCACaps requests (want at least 4)"

say "/metrics is valid Prometheus text: the policy and private-key families included"
# check_prom FILE: every family has HELP and TYPE before its samples,
# every sample line parses (label values escaped), no series twice.
check_prom() {
    python3 - "$1" <<'PY' || fail "/metrics is not valid Prometheus text (see above)"
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"'
sample = re.compile(r'^(%s)(\{%s(?:,%s)*\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$' % (name, label, label))
types, helps, seen, bad = {}, set(), set(), 0
for ln in open(sys.argv[1], encoding="utf-8").read().splitlines():
    m = re.match(r'^# (HELP|TYPE) (%s) (.*)$' % name, ln)
    if m:
        (helps.add if m.group(1) == "HELP" else lambda f: types.__setitem__(f, m.group(3)))(m.group(2))
        continue
    m = sample.match(ln)
    if not m:
        print("bad line: %r" % ln); bad += 1; continue
    fam = m.group(1)
    for suf in ("_bucket", "_sum", "_count"):
        if fam not in types and fam.endswith(suf) and types.get(fam[:-len(suf)]) == "histogram":
            fam = fam[:-len(suf)]
    if fam not in types or fam not in helps:
        print("sample before HELP/TYPE: %r" % ln); bad += 1
    key = m.group(1) + (m.group(2) or "")
    if key in seen:
        print("series twice: %r" % ln); bad += 1
    seen.add(key)
sys.exit(1 if bad else 0)
PY
}
check_prom "$BODY"
for fam in scepd_ca_private_key_operations_total scepd_rate_limited_total scepd_enrollment_decisions_total; do
    grep -q "^# HELP $fam " "$BODY" || fail "/metrics lacks '# HELP $fam'"
    grep -q "^# TYPE $fam counter$" "$BODY" || fail "/metrics lacks '# TYPE $fam counter'"
done
for lim in address challenge; do
    grep -q "^scepd_rate_limited_total{limit=\"$lim\"} 0$" "$BODY" ||
        fail "/metrics lacks scepd_rate_limited_total{limit=\"$lim\"} at 0"
done
[ "$(grep -c '^scepd_ca_private_key_operations_total ' "$BODY")" = 1 ] ||
    fail "scepd_ca_private_key_operations_total is not rendered exactly once"
ops_before=$(awk '/^scepd_ca_private_key_operations_total / {print $2}' "$BODY")

say "/metrics has the process collector's families and the build info"
for fam in process_resident_memory_bytes process_open_fds process_max_fds process_start_time_seconds; do
    grep -q "^# TYPE $fam gauge$" "$BODY" || fail "/metrics lacks '# TYPE $fam gauge'"
done
grep -q '^# TYPE process_cpu_seconds_total counter$' "$BODY" || fail "/metrics lacks process_cpu_seconds_total"
fds=$(awk '/^process_open_fds / {print $2}' "$BODY")
[ "${fds:-0}" -ge 3 ] || fail "process_open_fds is '$fds'"
start=$(awk '/^process_start_time_seconds / {print int($2)}' "$BODY")
now=$(date +%s)
[ "$start" -le "$now" ] && [ "$start" -gt $((now - 600)) ] || fail "process_start_time_seconds $start (now $now)"
grep -q '^scepd_build_info{version="[0-9.]*"} 1$' "$BODY" || fail "no scepd_build_info"

say "/metrics has the gauges: CA notAfter, CRL nextUpdate, certificates, expiring, pending"
for fam in scepd_ca_not_after_seconds scepd_crl_next_update_seconds scepd_certificates \
    scepd_certificates_expiring scepd_notifications_pending scepd_certificates_counted_seconds; do
    grep -q "^# HELP $fam " "$BODY" || fail "/metrics lacks '# HELP $fam'"
    grep -q "^# TYPE $fam gauge$" "$BODY" || fail "/metrics lacks '# TYPE $fam gauge'"
done
kid=$(openssl x509 -in "$SCEPD_STATE/ca.crt" -noout -ext subjectKeyIdentifier 2>/dev/null |
    tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f')
na=$(date -d "$(openssl x509 -in "$SCEPD_STATE/ca.crt" -noout -enddate | cut -d= -f2)" +%s)
grep -qi "^scepd_ca_not_after_seconds{ca_key_id=\"$kid\"} $na$" "$BODY" ||
    fail "/metrics lacks scepd_ca_not_after_seconds{ca_key_id=\"$kid\"} $na: $(grep '^scepd_ca_not_after' "$BODY")"
nu=$(awk -v k="$kid" 'tolower($0) ~ "^scepd_crl_next_update_seconds\\{ca_key_id=\"" k "\"\\}" {print $2}' "$BODY")
now=$(date +%s)
[ -n "$nu" ] && [ "$nu" -gt "$now" ] ||
    fail "scepd_crl_next_update_seconds for $kid is '$nu' (want a time after $now)"
for st in valid revoked expired; do
    grep -q "^scepd_certificates{status=\"$st\"} [0-9][0-9]*$" "$BODY" ||
        fail "/metrics lacks scepd_certificates{status=\"$st\"}"
done
grep -q '^scepd_certificates_expiring{within="30d"} [0-9][0-9]*$' "$BODY" ||
    fail "/metrics lacks scepd_certificates_expiring{within=\"30d\"}"
grep -q '^scepd_notifications_pending [0-9][0-9]*$' "$BODY" ||
    fail "/metrics lacks scepd_notifications_pending"

say "an enrollment costs the CA private-key operations, and /metrics shows them"
[ -n "${SCEPC:-}" ] && [ -x "$SCEPC" ] || fail "SCEPC (the scepc program) is not set"
"$SCEPC" enroll --url "$SCEPD_URL" --challenge "$IT_CHALLENGE" --subject CN=metrics-ops \
    --key "$IT_WORK/ops.key" --cert "$IT_WORK/ops.crt" \
    --fingerprint "$(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)" \
    >"$IT_WORK/ops.log" 2>&1 || fail "scepc enroll failed: $(tail -n 5 "$IT_WORK/ops.log")"
req GET "$base/metrics"
[ "$ST" = 200 ] || fail "/metrics status $ST"
check_prom "$BODY"
ops_after=$(awk '/^scepd_ca_private_key_operations_total / {print $2}' "$BODY")
# At least the envelope's key transport and the certificate's signature.
[ "$ops_after" -ge $((ops_before + 2)) ] ||
    fail "scepd_ca_private_key_operations_total went from $ops_before to $ops_after (want +2 or more)"

say "every request was logged as one logfmt line"
grep -q 'msg=request.*op=GetCACaps.*status=200' "$SCEPD_LOG" || fail "no request log line for GetCACaps"
grep -q 'status=400' "$SCEPD_LOG" || fail "no request log line with status=400"
grep -qi "$IT_CHALLENGE" "$SCEPD_LOG" && fail "the challenge password appears in scepd's log"

scepd_stop
