#!/usr/bin/env bash
# A short load test on loopback: 4 strongSwan pki clients in parallel,
# 5 enrollments each, while /metrics is scraped in a loop.  Then: no
# failure, every certificate a client got is in the store and verifies,
# the audit chain verifies, and /metrics adds up (PKIOperation successes,
# the issuance histogram, connections back to the scrape's own) in valid
# Prometheus text.  Also: every log line is one well-formed logfmt line,
# even for a request path full of quotes, '=', escapes and control bytes.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl python3

CLIENTS=4
EACH=5
TOTAL=$((CLIENTS * EACH))

scepd_start load --workers 2
fetch_ca_certs "$IT_WORK/ca"
base=${SCEPD_URL%/*}

say "generating $TOTAL client keys"
mkdir -p "$IT_WORK/k" "$IT_WORK/c"
for i in $(seq 1 "$TOTAL"); do rsa_key "$IT_WORK/k/$i.pem"; done

say "$CLIENTS clients x $EACH enrollments in parallel, /metrics scraped meanwhile"
pids=()
for c in $(seq 1 "$CLIENTS"); do
    (
        for j in $(seq 1 "$EACH"); do
            i=$(((c - 1) * EACH + j))
            sw_enroll "$IT_WORK/k/$i.pem" "$IT_WORK/c/$i.crt" "$IT_WORK/ca" aes sha256 "CN=load-$i" \
                --password "$IT_CHALLENGE" || { echo "enrollment $i failed" >"$IT_WORK/c/$i.failed"; }
        done
    ) &
    pids+=($!)
done
(
    while :; do
        curl -sS -m 5 -o /dev/null "$base/metrics" || echo "scrape failed" >>"$IT_WORK/scrape.failed"
        sleep 0.05
    done
) &
scraper=$!
IT_PIDS+=("$scraper")
for p in "${pids[@]}"; do wait "$p"; done
kill "$scraper"
wait "$scraper" 2>/dev/null || true

for f in "$IT_WORK"/c/*.failed; do
    [ -e "$f" ] || continue
    i=$(basename "$f" .failed)
    fail "enrollment $i failed: $(tail -n 3 "$IT_WORK/c/$i.crt.log")"
done
[ ! -e "$IT_WORK/scrape.failed" ] || fail "a /metrics scrape failed under load"

say "every certificate verifies, certifies its key and is in the store"
for i in $(seq 1 "$TOTAL"); do
    check_verifies "$IT_WORK/c/$i.crt" "$SCEPD_STATE/ca.crt"
    check_same_key "$IT_WORK/c/$i.crt" "$IT_WORK/k/$i.pem"
    check_stored "$IT_WORK/c/$i.crt"
done
n=$(store_sql "SELECT count(*) FROM certificates;")
[ "$n" = "$TOTAL" ] || fail "the store holds $n certificates (want $TOTAL)"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null || fail "scepctl audit --verify failed"
n=$(grep 'msg=request' "$SCEPD_LOG" | grep 'op=PKIOperation' | grep 'status=200' | grep -c 'outcome=success' || true)
[ "$n" = "$TOTAL" ] || fail "$n successful PKIOperation log lines (want $TOTAL)"

say "/metrics adds up and is valid Prometheus text"
# Connections close asynchronously: give the last client's a moment.
for i in $(seq 1 50); do
    curl -sS -o "$IT_WORK/metrics" "$base/metrics" || fail "GET /metrics failed"
    grep -qx 'scepd_connections 1' "$IT_WORK/metrics" && break
    sleep 0.1
done
python3 - "$IT_WORK/metrics" "$TOTAL" <<'PY' || fail "/metrics check failed (above)"
import math, re, sys
text = open(sys.argv[1]).read()
total = int(sys.argv[2])
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample_re = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (name_re, label_re, label_re))
types, helps, samples, seen = {}, set(), {}, set()
errors = []
if not text.endswith("\n"):
    errors.append("does not end with a newline")
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
    elif line.startswith("# TYPE "):
        parts = line.split()
        if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            errors.append("line %d: bad TYPE line" % n)
        elif parts[2] in types:
            errors.append("line %d: second TYPE for %s" % (n, parts[2]))
        else:
            types[parts[2]] = parts[3]
    elif line.startswith("#") or line == "":
        errors.append("line %d: unexpected %r" % (n, line))
    else:
        m = sample_re.match(line)
        if not m:
            errors.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            errors.append("line %d: bad value %r" % (n, value))
            continue
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        if family not in types:
            errors.append("line %d: %s has no TYPE line before it" % (n, name))
        if family not in helps:
            errors.append("line %d: %s has no HELP line" % (n, name))
        if types.get(family) == "counter" and not name.endswith("_total"):
            errors.append("line %d: counter %s does not end in _total" % (n, name))
        if (name, labels) in seen:
            errors.append("line %d: duplicate series %s%s" % (n, name, labels))
        seen.add((name, labels))
        samples[(name, labels)] = v
def get(name, labels=""):
    return samples.get((name, labels))
ok = get("scepd_requests_total", '{operation="PKIOperation",outcome="success"}')
if ok != total:
    errors.append("PKIOperation successes: %s (want %d)" % (ok, total))
for oc in ("failure", "pending", "error"):
    v = get("scepd_requests_total", '{operation="PKIOperation",outcome="%s"}' % oc)
    if v != 0:
        errors.append("PKIOperation %s: %s (want 0)" % (oc, v))
buckets = sorted(((float(l[5:-2]) if l[5:-2] != "+Inf" else math.inf), v)
                 for (n, l), v in samples.items() if n == "scepd_issuance_seconds_bucket")
if not buckets or buckets[-1][0] != math.inf:
    errors.append("histogram lacks le=\"+Inf\"")
else:
    if any(hi[1] < lo[1] for lo, hi in zip(buckets, buckets[1:])):
        errors.append("histogram buckets are not cumulative")
    if buckets[-1][1] != get("scepd_issuance_seconds_count"):
        errors.append("+Inf bucket %s != _count %s" % (buckets[-1][1], get("scepd_issuance_seconds_count")))
if get("scepd_issuance_seconds_count") != total:
    errors.append("issuance count %s (want %d)" % (get("scepd_issuance_seconds_count"), total))
if not get("scepd_issuance_seconds_sum") or get("scepd_issuance_seconds_sum") <= 0:
    errors.append("issuance sum is not positive")
if get("scepd_connections") != 1:
    errors.append("scepd_connections %s (want 1: this scrape's own)" % get("scepd_connections"))
if (get("scepd_connections_accepted_total") or 0) < total:
    errors.append("scepd_connections_accepted_total %s < %d" % (get("scepd_connections_accepted_total"), total))
for e in errors:
    print("metrics: " + e)
sys.exit(1 if errors else 0)
PY

say "a hostile request path cannot break or forge a log line, nor a long one cut it badly"
hostport=${SCEPD_URL#http://}
hostport=${hostport%%/*}
python3 - "${hostport%:*}" "${hostport##*:}" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
# Quotes, '=', a backslash, ESC, DEL, a byte above 0x7f and an escaped
# newline: a path a client chose, logged as is.
s.sendall(b'GET /scep/x"%0Alevel=error\\msg="forged\x1b[31m\x7f\xff?operation=GetCACaps HTTP/1.1\r\n'
          b'Host: x\r\nConnection: close\r\n\r\n')
while s.recv(4096):
    pass
# A path far longer than a log line, escaped to twice its length: the
# line is cut, but stays well formed.
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b'GET /scep/' + b'"' * 3000 + b'?operation=GetCACaps HTTP/1.1\r\n'
          b'Host: x\r\nConnection: close\r\n\r\n')
while s.recv(4096):
    pass
PY
sleep 0.2
python3 - "$SCEPD_LOG" <<'PY' || fail "the log has a malformed line (above)"
import re, sys
raw = open(sys.argv[1], "rb").read()
errors = []
if not raw.endswith(b"\n"):
    errors.append("log does not end with a newline")
pair = re.compile(rb'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s="\\]*)')
hostile = longpath = 0
for n, line in enumerate(raw.split(b"\n")[:-1], 1):
    if any(c < 0x20 or c >= 0x7f for c in line):
        errors.append("line %d: raw control or non-ASCII byte" % n)
    rest = line
    keys = []
    while rest:
        m = pair.match(rest)
        if not m:
            errors.append("line %d: not logfmt at %r" % (n, rest[:40]))
            break
        keys.append(m.group(1))
        rest = rest[m.end():]
        if rest.startswith(b" "):
            rest = rest[1:]
        elif rest:
            errors.append("line %d: no space after a value at %r" % (n, rest[:40]))
            break
    if keys[:3] != [b"time", b"level", b"msg"]:
        errors.append("line %d: does not start with time, level, msg" % n)
    if len(keys) != len(set(keys)):
        errors.append("line %d: a key appears twice (forged pair?)" % n)
    if b"forged" in line:
        hostile += 1
    if b"path_len" in keys:
        longpath += 1
        if b"status" not in keys or b"outcome" not in keys:
            errors.append("line %d: a long path crowded out the status and outcome" % n)
if longpath != 1:
    errors.append("the long path was logged %d times with path_len (want once)" % longpath)
if hostile != 1:
    errors.append("the hostile request was logged %d times (want exactly once)" % hostile)
for e in errors:
    print("log: " + e)
sys.exit(1 if errors else 0)
PY

scepd_stop
