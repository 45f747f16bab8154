#!/usr/bin/env python3
"""Connection abuse for test_conn_abuse.sh: a legitimate client, an
attacker holding idle and slowloris connections, and a flood of partial
headers.  Standard library only; every source address is a loopback
address (127.0.0.0/8 is all local on Linux), so one machine can play
several clients.

  legit  HOST PORT PATH SRC SECONDS RATE OUT
      GetCACaps from SRC, one connection each, paced at RATE a second for
      SECONDS; writes {"ok", "errors", "max_ms", "per_second"} to OUT.
  attack HOST PORT PATH SRC SECONDS NIDLE NSLOW FLAG OUT
      keeps NIDLE connections that send nothing and NSLOW that send a
      header line a second and never finish, from SRC, reopening any the
      server closes (at most 100 a second); touches FLAG once all are
      open the first time; writes {"opened", "closed_by_server"} to OUT.
      SRC may be a range, 127.0.2.1-30: the connections take its
      addresses in turn.
  flood  HOST PORT PATH PID NCONN SIZE NADDR SECONDS OUT
      opens NCONN connections from 127.0.1.1 .. 127.0.1.NADDR, sends on
      each SIZE bytes of a header that never ends, holds them SECONDS
      while sampling PID's VmRSS, asks GetCACaps from 127.0.0.2 in the
      middle, then counts the connections closed and the 503s; writes
      {"base_rss_kb", "peak_rss_kb", "closed", "got_503", "legit_status",
      "legit_ms"} to OUT.
"""
import json
import selectors
import socket
import sys
import threading
import time


def get(host, port, path, src, timeout=10.0):
    """One GetCACaps on a new connection from src: (status, ms)."""
    t0 = time.monotonic()
    status = 0
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect((host, port))
        s.sendall(("GET %s?operation=GetCACaps HTTP/1.1\r\nHost: %s\r\n"
                   "Connection: close\r\n\r\n" % (path, host)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        line = data.split(b"\r\n", 1)[0].split()
        if len(line) >= 2 and line[1].isdigit():
            status = int(line[1])
    except OSError as e:
        status = -(e.errno or 1)
    return status, (time.monotonic() - t0) * 1000.0


def legit(host, port, path, src, seconds, rate, out):
    ok = errors = 0
    why = {}  # status (negative: errno) -> count
    max_ms = 0.0
    start = time.monotonic()
    i = 0
    while True:
        due = start + i / rate
        now = time.monotonic()
        if due - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        i += 1
        status, ms = get(host, port, path, src)
        max_ms = max(max_ms, ms)
        if status == 200:
            ok += 1
        else:
            errors += 1
            why[status] = why.get(status, 0) + 1
        # A stalled request does not get its missed turns back.
        late = time.monotonic() - start
        i = max(i, int(late * rate))
    with open(out, "w") as f:
        json.dump({"ok": ok, "errors": errors, "max_ms": round(max_ms, 1),
                   "per_second": ok / seconds, "why": why}, f)


def addresses(src):
    """127.0.2.1-30 -> [127.0.2.1, ..., 127.0.2.30]; one address as is."""
    if "-" not in src:
        return [src]
    first, last = src.split("-")
    prefix, lo = first.rsplit(".", 1)
    return ["%s.%d" % (prefix, i) for i in range(int(lo), int(last) + 1)]


def attack(host, port, path, src, seconds, nidle, nslow, flag, out):
    srcs = addresses(src)
    sel = selectors.DefaultSelector()
    conns = {}  # socket -> "idle" | "slow"
    sent = set()  # slow sockets that have sent their request line
    opened = closed = 0
    want = ["idle"] * nidle + ["slow"] * nslow
    start = time.monotonic()
    budget_t, budget = start, 100
    first_done = False
    head = ("GET %s?operation=GetCACaps HTTP/1.1\r\nHost: %s\r\n" % (path, host)).encode()

    def open_one(kind):
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((srcs[opened % len(srcs)], 0))
        s.setblocking(False)
        s.connect_ex((host, port))
        conns[s] = kind
        sel.register(s, selectors.EVENT_READ)
        opened += 1

    def drop(s):
        sel.unregister(s)
        del conns[s]
        sent.discard(s)
        s.close()

    last_slow = start
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now - budget_t >= 1.0:
            budget_t, budget = now, 100
        while want and (budget > 0 or not first_done):
            try:
                open_one(want.pop())
            except OSError:
                break
            budget -= 1
        if not want and not first_done:
            first_done = True
            open(flag, "w").write("open\n")
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                want.append(conns[s])
                drop(s)
                closed += 1
        if time.monotonic() - last_slow >= 1.0:
            last_slow = time.monotonic()
            for s, kind in list(conns.items()):
                if kind != "slow":
                    continue
                try:
                    # The request line first, then a header line a second.
                    s.send(b"X-Slow: a\r\n" if s in sent else head)
                    sent.add(s)
                except BlockingIOError:
                    pass
                except OSError:
                    want.append(kind)
                    drop(s)
                    closed += 1
    for s in list(conns):
        s.close()
    with open(out, "w") as f:
        json.dump({"opened": opened, "closed_by_server": closed}, f)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def flood(host, port, path, pid, nconn, size, naddr, seconds, out):
    base = rss_kb(pid)
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    head = ("GET %s?operation=GetCACaps HTTP/1.1\r\nHost: %s\r\n" % (path, host)).encode()
    line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    payload = head + line * ((size - len(head)) // len(line))
    socks, closed = [], 0
    for i in range(nconn):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.bind(("127.0.1.%d" % (1 + i % naddr), 0))
            s.connect((host, port))
            s.sendall(payload)
        except OSError:
            closed += 1
            s.close()
            continue
        socks.append(s)
    time.sleep(seconds / 2)
    status, ms = get(host, port, path, "127.0.0.2")
    time.sleep(seconds / 2)
    stop.set()
    t.join()
    got_503 = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            if data.startswith(b"HTTP/1.1 503"):
                got_503 += 1
                closed += 1
            elif not data:
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    with open(out, "w") as f:
        json.dump({"base_rss_kb": base, "peak_rss_kb": peak[0], "closed": closed,
                   "got_503": got_503, "legit_status": status, "legit_ms": round(ms, 1)}, f)


def main(argv):
    mode, host, port, path = argv[1], argv[2], int(argv[3]), argv[4]
    a = argv[5:]
    if mode == "legit":
        legit(host, port, path, a[0], float(a[1]), float(a[2]), a[3])
    elif mode == "attack":
        attack(host, port, path, a[0], float(a[1]), int(a[2]), int(a[3]), a[4], a[5])
    elif mode == "flood":
        flood(host, port, path, int(a[0]), int(a[1]), int(a[2]), int(a[3]), float(a[4]), a[5])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
