#!/usr/bin/env python3
"""A tiny SMTP sink for scepd's expiry digests (issue 8).

Listens on 127.0.0.1, on a port the kernel picks, and writes that port to
--port-file once it accepts connections.  Speaks just enough RFC 5321 for
one client at a time: EHLO/HELO, optionally AUTH PLAIN (with --user and
--password it is advertised and required before MAIL), MAIL FROM, RCPT
TO, DATA (dot-unstuffed, up to 1 MiB), RSET, NOOP, QUIT.  It offers no
STARTTLS, so a client using STARTTLS-when-offered speaks plain SMTP.
Each message is saved as --dir/msg-N.eml (N from 1), with the envelope
in --dir/msg-N.env ("MAIL <from>" then one "RCPT <to>" per recipient).

Python 3 standard library only (socketserver; smtpd is deprecated).
Stops on SIGTERM or SIGINT.
"""
import argparse
import base64
import os
import signal
import socketserver
import sys
import threading

MAX_DATA = 1024 * 1024


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(4096)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        srv = self.server
        authed = srv.user is None
        mail_from, rcpts = None, []
        self.reply("220 smtp-sink ESMTP ready")
        try:
            while True:
                line = self.readline()
                verb = line.split(" ", 1)[0].upper()
                arg = line[len(verb):].strip()
                if verb in ("EHLO", "HELO"):
                    if verb == "HELO":
                        self.reply("250 smtp-sink")
                    else:
                        self.wfile.write(b"250-smtp-sink\r\n250-8BITMIME\r\n")
                        if srv.user is not None:
                            self.wfile.write(b"250-AUTH PLAIN\r\n")
                        self.reply("250 SIZE 1048576")
                elif verb == "AUTH":
                    parts = arg.split(" ", 1)
                    if parts[0].upper() != "PLAIN" or srv.user is None:
                        self.reply("504 unsupported")
                        continue
                    resp = parts[1] if len(parts) > 1 else None
                    if resp is None:
                        self.reply("334 ")
                        resp = self.readline()
                    try:
                        _, user, pw = base64.b64decode(resp).decode().split("\0")
                    except Exception:
                        self.reply("501 bad AUTH PLAIN")
                        continue
                    if user == srv.user and pw == srv.password:
                        authed = True
                        self.reply("235 ok")
                    else:
                        self.reply("535 authentication failed")
                elif verb == "MAIL":
                    if not authed:
                        self.reply("530 authentication required")
                        continue
                    mail_from, rcpts = arg, []
                    self.reply("250 ok")
                elif verb == "RCPT":
                    if mail_from is None:
                        self.reply("503 MAIL first")
                        continue
                    rcpts.append(arg)
                    self.reply("250 ok")
                elif verb == "DATA":
                    if mail_from is None or not rcpts:
                        self.reply("503 MAIL and RCPT first")
                        continue
                    self.reply("354 end with <CRLF>.<CRLF>")
                    data, size = [], 0
                    while True:
                        raw = self.rfile.readline(MAX_DATA)
                        if not raw:
                            raise EOFError
                        if raw == b".\r\n":
                            break
                        if raw.startswith(b"."):
                            raw = raw[1:]
                        size += len(raw)
                        if size > MAX_DATA:
                            self.reply("552 too big")
                            return
                        data.append(raw)
                    with srv.lock:
                        srv.count += 1
                        n = srv.count
                    base = os.path.join(srv.dir, "msg-%d" % n)
                    with open(base + ".env.tmp", "w", encoding="utf-8") as f:
                        f.write("MAIL %s\n" % mail_from)
                        for r in rcpts:
                            f.write("RCPT %s\n" % r)
                    with open(base + ".eml.tmp", "wb") as f:
                        f.write(b"".join(data))
                    os.replace(base + ".env.tmp", base + ".env")
                    os.replace(base + ".eml.tmp", base + ".eml")
                    mail_from, rcpts = None, []
                    self.reply("250 ok queued as %d" % n)
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.reply("250 ok")
                elif verb == "NOOP":
                    self.reply("250 ok")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 not implemented")
        except (EOFError, ConnectionResetError, BrokenPipeError, TimeoutError):
            return


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.dir = args.dir
    srv.user = args.user
    srv.password = args.password
    srv.lock = threading.Lock()
    srv.count = 0
    os.makedirs(args.dir, exist_ok=True)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    srv.serve_forever()
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
