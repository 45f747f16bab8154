#!/usr/bin/env python3
"""A test webhook for scepd's enrollment verification (issue 7).

Listens on 127.0.0.1, on a port the kernel picks, and writes that port to
--port-file once it accepts connections.  Every POST must carry
X-Scepd-Signature: sha256=<hex HMAC-SHA256 of the raw body under
--secret>, else 401.  Each JSON body received is appended as one line to
--log.  The path picks the answer:

  /allow           200 {"allow": true}
  /deny            200 {"allow": false, "reason": "not in inventory"}
  /hang            no answer for 30 s
  /error           500
  /allow-cn/<CN>   allow only when the body's subject has CN=<CN>
  /challenge/<X>   allow only when the body's challenge is X

Python 3 standard library only.  Stops on SIGTERM or SIGINT.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024


def allow(flag, reason=None):
    doc = {"allow": flag}
    if reason is not None:
        doc["reason"] = reason
    return 200, doc


def subject_has_cn(subject, cn):
    # RFC 2253: RDNs separated by unescaped commas; CN=<cn> must be one
    # of them exactly, not a prefix of a longer value.
    for rdn in re.split(r'(?<!\\),', subject or ""):
        for ava in re.split(r'(?<!\\)\+', rdn):
            if ava.strip() == "CN=" + cn:
                return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook-test/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("webhook_server: " + (fmt % args) + "\n")

    def answer(self, code, doc=None):
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.answer(400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(n)
        want = "sha256=" + hmac.new(self.server.secret, raw, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Scepd-Signature", "")
        if not hmac.compare_digest(want, got):
            self.answer(401, {"error": "bad signature"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.answer(400, {"error": "not JSON"})
            return
        with self.server.log_lock:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(body, separators=(",", ":")) + "\n")
        path = urllib.parse.urlsplit(self.path).path
        if path == "/allow":
            code, doc = allow(True)
        elif path == "/deny":
            code, doc = allow(False, "not in inventory")
        elif path == "/hang":
            time.sleep(30)
            code, doc = allow(False, "too late")
        elif path == "/error":
            code, doc = 500, None
        elif path.startswith("/allow-cn/"):
            cn = urllib.parse.unquote(path[len("/allow-cn/"):])
            ok = subject_has_cn(body.get("subject"), cn)
            code, doc = allow(ok, None if ok else "subject has no CN=" + cn)
        elif path.startswith("/challenge/"):
            want_ch = urllib.parse.unquote(path[len("/challenge/"):])
            ok = body.get("challenge") == want_ch
            code, doc = allow(ok, None if ok else "wrong challenge")
        else:
            code, doc = 404, None
        try:
            self.answer(code, doc)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a /hang past its timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True  # a /hang must not hold up the exit
    srv.secret = args.secret.encode()
    srv.log_path = args.log
    srv.log_lock = threading.Lock()
    open(args.log, "a", encoding="utf-8").close()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Written last and renamed, so that a reader never sees half a port.
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    main()
