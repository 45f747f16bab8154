#!/bin/sh
# scepc failure modes: each has its own exit code and a clear message,
# and none leaves a key, certificate or temporary file behind.
#   3 wrong challenge, 4 unreachable / HTTP error, 5 fingerprint mismatch,
#   6 tampered CertRep (a proxy flips one byte), 2 usage.
. "$(dirname "$0")/test_scepc_common.sh"
CHALLENGE=pw-$$
start_scepd "$WORK/d"
cd "$WORK"

expect_rc 3 "$SCEPC" enroll --url "$URL" --challenge wrong --subject CN=a --key a.key --cert a.crt
grep -q "refused" stderr || fail "no clear message for a wrong challenge"
no_files a.key a.crt

DEAD=http://127.0.0.1:$(free_port)/scep
expect_rc 4 "$SCEPC" enroll --url "$DEAD" --challenge "$CHALLENGE" --subject CN=b --key b.key --cert b.crt
grep -q "connect" stderr || fail "no clear message for an unreachable server"
no_files b.key b.crt
expect_rc 4 "$SCEPC" enroll --url "${URL%/scep}/nosuchpath" --challenge "$CHALLENGE" \
    --subject CN=b --key b.key --cert b.crt
no_files b.key b.crt

ZERO=0000000000000000000000000000000000000000000000000000000000000000
expect_rc 5 "$SCEPC" enroll --url "$URL" --fingerprint "$ZERO" --challenge "$CHALLENGE" \
    --subject CN=c --key c.key --cert c.crt
grep -q "fingerprint" stderr || fail "no clear message for a fingerprint mismatch"
no_files c.key c.crt
expect_rc 5 "$SCEPC" cacert --url "$URL" --fingerprint "$ZERO" --out ca.pem
no_files ca.pem

# A proxy that passes everything through but flips one byte in the
# middle of every PKIOperation answer.
PPORT=$(free_port)
cat >proxy.py <<'PY'
import sys, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer
upstream, port = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    def relay(self, body=None):
        req = urllib.request.Request(upstream + self.path[self.path.index("?"):] if "?" in self.path else upstream,
                                     data=body, method=self.command)
        if body is not None:
            req.add_header("Content-Type", self.headers.get("Content-Type", "application/x-pki-message"))
        try:
            r = urllib.request.urlopen(req); code, data, ct = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            code, data, ct = e.code, e.read(), e.headers.get("Content-Type", "")
        if "PKIOperation" in self.path and len(data) > 100:
            data = bytearray(data); data[len(data) // 2] ^= 0x01; data = bytes(data)
        self.send_response(code); self.send_header("Content-Type", ct)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_GET(self): self.relay()
    def do_POST(self): self.relay(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 proxy.py "$URL" "$PPORT" &
PIDS="$PIDS $!"
i=0
until "$SCEPC" caps --url "http://127.0.0.1:$PPORT/scep" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "proxy did not start"; sleep 0.1
done
for m in post get; do
    expect_rc 6 "$SCEPC" enroll --url "http://127.0.0.1:$PPORT/scep" --method $m \
        --challenge "$CHALLENGE" --subject CN=d --key d.key --cert d.crt
    grep -q "tampered" stderr || fail "no clear message for a tampered CertRep"
    no_files d.key d.crt
done

expect_rc 2 "$SCEPC" enroll --url "$URL" --no-such-flag
expect_rc 2 "$SCEPC" enroll --challenge x --subject CN=e --key e.key --cert e.crt
expect_rc 2 "$SCEPC" frobnicate
no_files e.key e.crt
echo PASS
