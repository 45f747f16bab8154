#!/usr/bin/env python3
"""A small HTTP proxy in front of scepd for the GET PKIOperation test.

Real clients choose GET or POST for PKIOperation from GetCACaps, and
scepd advertises POSTPKIOperation.  To see how scepd handles a client's
own GET encoding, this proxy forwards every request byte for byte but
edits GetCACaps answers:

  --strip-post     drop POSTPKIOperation and SCEPStandard from GetCACaps,
                   so that a client falls back to GET (RFC 8894 4.1);
  --capture FILE   answer a POSTed PKIOperation with 503 and save its body
                   to FILE without forwarding it: a fresh, never-seen
                   request that another client can then send itself.

Prints "proxy: listening on PORT" once ready.  Stopped by SIGTERM.
"""
import argparse
import http.server
import sys
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of scepd")
    ap.add_argument("--strip-post", action="store_true")
    ap.add_argument("--capture")
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *a):
            sys.stderr.write("proxy: %s %s\n" % (self.command, self.path))

        def forward(self, body):
            req = urllib.request.Request(args.upstream + self.path, data=body, method=self.command)
            if body is not None:
                req.add_header("Content-Type", self.headers.get("Content-Type", "application/octet-stream"))
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    status, ctype, data = r.status, r.headers.get("Content-Type", ""), r.read()
            except urllib.error.HTTPError as e:
                status, ctype, data = e.code, e.headers.get("Content-Type", ""), e.read()
            if args.strip_post and "operation=GetCACaps" in self.path and status == 200:
                keep = [l for l in data.decode().splitlines()
                        if l.strip() not in ("POSTPKIOperation", "SCEPStandard")]
                data = ("\n".join(keep) + "\n").encode()
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.forward(None)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.capture and "operation=PKIOperation" in self.path:
                with open(args.capture, "wb") as f:
                    f.write(body)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.forward(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("proxy: listening on %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
