#!/usr/bin/env bash
# Connection abuse from one host must not starve the others.  A
# legitimate client (GetCACaps from 127.0.0.2, paced, one connection
# each; strongSwan enrollments from 127.0.0.1) is measured alone, then
# while an attacker at 127.0.0.3 holds idle and slowloris connections,
# more than workers x max_connections, and reopens every one scepd
# closes: its throughput must stay at 0.8 of the baseline or more, no
# request may take long, the refusals over max_connections_per_client
# must be counted.  The same with idle connections from 30 addresses,
# none over its limit: a nearly full worker closes the longest idle to
# make room.  scepd must serve afterwards.  Then 2,000
# connections from 100 addresses each send 60 KB of a header that never
# ends: scepd's memory must stay near max_header_memory (not 120 MB of
# headers), the connections holding them get 503, and a new request is
# still answered.  The new keys are left at their defaults: the limits
# must hold as shipped.
. "$(dirname "$0")/lib.sh"
need curl pki openssl
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
ABUSE=$SCEP_IT_DIR/conn_abuse.py

# metric NAME: the value of the sample NAME (labels included) in /metrics.
metric() {
    curl -sS -m 5 "$base/metrics" >"$IT_WORK/m.txt" || return 0
    awk -v n="$1" '$1 == n {print $2; exit}' "$IT_WORK/m.txt"
}
# json FILE KEY: one value of a conn_abuse.py result.
json() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
wait_flag() {
    local i
    for i in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done
    fail "helper did not signal $1"
}
# enroll N: one strongSwan enrollment; sets ms to how long it took.
enroll() {
    local t0 rc=0
    rsa_key "$IT_WORK/k$1.pem"
    t0=$(date +%s%N)
    sw_enroll "$IT_WORK/k$1.pem" "$IT_WORK/c$1.pem" "$IT_WORK/ca" aes sha256 "CN=abuse-$1" \
        --password "$IT_CHALLENGE" || rc=$?
    [ "$rc" = 0 ] || fail "enrollment $1 failed: $(tail -n 3 "$IT_WORK/c$1.pem.log")"
    ms=$((($(date +%s%N) - t0) / 1000000))
}

# Small: 2 x 24 slots, which the attacker's 80 connections overfill.
scepd_start abuse --workers 2 --max-connections 24 --read-timeout 10
base=${SCEPD_URL%/*}
hostport=${base#http://}
host=${hostport%:*}
port=${hostport##*:}
path=/${SCEPD_URL#"$base"/}
fetch_ca_certs "$IT_WORK/ca"

say "baseline: GetCACaps from 127.0.0.2 at 25 a second for 8 s, one enrollment"
"$PY" "$ABUSE" legit "$host" "$port" "$path" 127.0.0.2 8 25 "$IT_WORK/base.json"
b_ok=$(json "$IT_WORK/base.json" ok)
[ "$b_ok" -ge 100 ] || fail "baseline: only $b_ok GetCACaps answered in 8 s"
enroll 1

say "attack from 127.0.0.3: 60 idle and 20 slowloris connections, reopened when closed"
: >"$IT_WORK/attack.out"
"$PY" "$ABUSE" attack "$host" "$port" "$path" 127.0.0.3 16 60 20 "$IT_WORK/attack.flag" \
    "$IT_WORK/attack.json" >"$IT_WORK/attack.out" 2>&1 &
attacker=$!
IT_PIDS+=("$attacker")
wait_flag "$IT_WORK/attack.flag"
sleep 1
"$PY" "$ABUSE" legit "$host" "$port" "$path" 127.0.0.2 8 25 "$IT_WORK/under.json" &
legit=$!
enroll 2
e2=$ms
enroll 3
e3=$ms
wait "$legit" || fail "the legitimate client failed under attack"
wait "$attacker" || fail "the attacker failed: $(cat "$IT_WORK/attack.out")"
u_ok=$(json "$IT_WORK/under.json" ok)
u_max=$(json "$IT_WORK/under.json" max_ms)
ratio=$(awk -v u="$u_ok" -v b="$b_ok" 'BEGIN {printf "%.2f", u / b}')
say "legitimate GetCACaps: $b_ok alone, $u_ok under attack (ratio $ratio), longest $u_max ms;" \
    "enrollments under attack $e2 ms, $e3 ms; attacker $(cat "$IT_WORK/attack.json")"
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.8)}' ||
    fail "legitimate throughput under attack is $ratio of the baseline (want >= 0.8)"
awk -v m="$u_max" 'BEGIN {exit !(m < 3000)}' ||
    fail "the longest legitimate GetCACaps under attack took $u_max ms (want < 3000)"
[ "$e2" -lt 5000 ] && [ "$e3" -lt 5000 ] ||
    fail "enrollments under attack took $e2 ms and $e3 ms (want < 5000 each)"
refused=$(metric 'scepd_connections_refused_total{reason="per_client"}')
[ "${refused:-0}" -ge 1 ] || fail "scepd_connections_refused_total{reason=\"per_client\"} is '$refused'"
n=$(grep -c 'connection refused: too many from one client' "$SCEPD_LOG" || true)
[ "$n" -le 40 ] || fail "$n log lines about refused connections for $refused refusals (want rate-limited)"

say "80 idle connections from 30 addresses (under the per-client limit): idle ones make room"
: >"$IT_WORK/idle.out"
"$PY" "$ABUSE" attack "$host" "$port" "$path" 127.0.2.1-30 14 80 0 "$IT_WORK/idle.flag" \
    "$IT_WORK/idle.json" >"$IT_WORK/idle.out" 2>&1 &
attacker=$!
IT_PIDS+=("$attacker")
wait_flag "$IT_WORK/idle.flag"
sleep 1
"$PY" "$ABUSE" legit "$host" "$port" "$path" 127.0.0.2 8 25 "$IT_WORK/idle-legit.json"
wait "$attacker" || fail "the idle attacker failed: $(cat "$IT_WORK/idle.out")"
i_ok=$(json "$IT_WORK/idle-legit.json" ok)
i_max=$(json "$IT_WORK/idle-legit.json" max_ms)
ratio=$(awk -v u="$i_ok" -v b="$b_ok" 'BEGIN {printf "%.2f", u / b}')
say "legitimate GetCACaps: $i_ok among idle connections (ratio $ratio), longest $i_max ms;" \
    "attacker $(cat "$IT_WORK/idle.json"), client $(cat "$IT_WORK/idle-legit.json")"
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.8)}' ||
    fail "legitimate throughput among idle connections is $ratio of the baseline (want >= 0.8)"
awk -v m="$i_max" 'BEGIN {exit !(m < 3000)}' ||
    fail "the longest legitimate GetCACaps among idle connections took $i_max ms (want < 3000)"
idle=$(metric 'scepd_connections_shed_total{reason="idle"}')
[ "${idle:-0}" -ge 1 ] || fail "scepd_connections_shed_total{reason=\"idle\"} is '$idle'"

say "after the attack: served at once, and an enrollment works"
curl -sS -m 3 --interface 127.0.0.3 -o /dev/null "$SCEPD_URL?operation=GetCACaps" ||
    fail "the attacker's address is not served after the attack"
enroll 4
scepd_stop

say "2,000 partial headers of 60 KB from 100 addresses: memory stays bounded"
# ASan keeps freed memory in quarantine (256 MB by default), which would
# count every byte ever read in VmRSS; a small one lets memory be reused
# as in a normal build.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
scepd_start flood --workers 2 --read-timeout 20
base=${SCEPD_URL%/*}
curl -sS -m 3 -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "flood scepd does not answer"
"$PY" "$ABUSE" flood "$host" "${base##*:}" "$path" "$SCEPD_PID" 2000 61440 100 4 "$IT_WORK/flood.json" ||
    fail "the flood helper failed"
grow=$(($(json "$IT_WORK/flood.json" peak_rss_kb) - $(json "$IT_WORK/flood.json" base_rss_kb)))
say "flood: $(cat "$IT_WORK/flood.json"); VmRSS grew $((grow / 1024)) MB"
# max_header_memory is 32 MB by default and the headers sent are 120 MB
# (unbounded, VmRSS grows by 135 MB); what is held costs more than its
# bytes (evhttp's header lists, each connection's buffers), 50 MB or so:
# 80 MB at most.  ASan's redzones, shadow and allocator caches about
# double every allocation (75 to 90 MB here, 205 MB unbounded): 160 MB.
ldd "$SCEPD" >"$IT_WORK/ldd.txt" 2>&1 || true
limit=80
grep -q libasan "$IT_WORK/ldd.txt" && limit=160
[ "$grow" -lt $((limit * 1024)) ] ||
    fail "VmRSS grew $((grow / 1024)) MB under the flood (want < $limit MB)"
[ "$(json "$IT_WORK/flood.json" got_503)" -ge 1 ] || fail "no flood connection got a 503"
[ "$(json "$IT_WORK/flood.json" legit_status)" = 200 ] ||
    fail "a new request during the flood got status $(json "$IT_WORK/flood.json" legit_status)"
shed=$(metric 'scepd_connections_shed_total{reason="header_memory"}')
[ "${shed:-0}" -ge 1 ] || fail "scepd_connections_shed_total{reason=\"header_memory\"} is '$shed'"
curl -sS -m 3 -o /dev/null "$SCEPD_URL?operation=GetCACaps" || fail "no service after the flood"
scepd_stop
