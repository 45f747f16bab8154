#!/usr/bin/env bash
#
# bench/ocsp_run.sh: OCSP responses per second from scepd's /ocsp against
# OpenSSL's own responder ("openssl ocsp -index ... -port ..."), in one run
# on the same CA and the same certificates, with the same load generator
# (ocsp_load).
#
# Starts scepd on 127.0.0.1 with a fresh state directory and an RSA CA of
# CA_BITS, enrolls CERTS certificates with scepc and revokes one, writes
# an OpenSSL index.txt from scepd's store, and starts "openssl ocsp
# -index index.txt -rsigner ca.crt -rkey ca.key -multi 2" on the same CA
# key (both sign with the CA, as RFC 6960 4.2.2.2 allows).  Then for
# ROUNDS rounds, alternately, ocsp_load runs SECONDS against each with
# requests without a nonce (which scepd answers from its response cache)
# and with a nonce (a signature per answer for both).  Prints every run,
# the median per case and the ratio scepd / openssl.
#
# Usage: bench/ocsp_run.sh [BUILD_DIR]     (default: <repo>/build)
# Environment (defaults): THREADS=4 SECONDS_EACH=5 ROUNDS=3 CERTS=20
#   CA_BITS=2048 WORKERS=2 (scepd worker threads; openssl gets -multi 2)
#
# KEEP=1 keeps the temporary directory.
#
# Exit status: 0 when every answer from both responders was a successful
# OCSPResponse, 1 otherwise or when a server did not start, 2 when
# something needed is missing.

set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
THREADS=${THREADS:-4}
SECONDS_EACH=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-3}
CERTS=${CERTS:-20}
CA_BITS=${CA_BITS:-2048}
WORKERS=${WORKERS:-2}

scepd=$build/src/scepd/scepd
scepctl=$build/src/scepctl/scepctl
scepc=$build/src/scepc/scepc
load=$build/bench/ocsp_load
for f in "$scepd" "$scepctl" "$scepc" "$load"; do
    if [ ! -x "$f" ]; then
        echo "ocsp_run.sh: $f not built" >&2
        exit 2
    fi
done
for c in openssl sqlite3 python3 pgrep; do
    command -v "$c" >/dev/null 2>&1 || {
        echo "ocsp_run.sh: $c not found" >&2
        exit 2
    }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocsp-bench.XXXXXX")
scepd_pid=
ossl_pid=
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    # openssl ocsp -multi's parent restarts its children and does not end
    # on SIGTERM: its children (by parent pid) and it get SIGKILL.
    if [ -n "$ossl_pid" ]; then
        for p in $(pgrep -P "$ossl_pid"); do
            kill -KILL "$p" 2>/dev/null
        done
        kill -KILL "$ossl_pid" 2>/dev/null
    fi
    [ -n "$scepd_pid" ] && kill "$scepd_pid" 2>/dev/null
    for p in $scepd_pid $ossl_pid; do
        wait "$p" 2>/dev/null
    done
    [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

challenge=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
state=$tmp/state

# The load generator is one host: the per-client connection limit is off.
"$scepd" --state-dir "$state" --listen 127.0.0.1:0 --challenge "$challenge" \
    --ca-rsa-bits "$CA_BITS" --workers "$WORKERS" --log-level warn --max-connections-per-client 0 \
    >"$tmp/scepd.out" 2>"$tmp/scepd.log" &
scepd_pid=$!
url=
for _ in $(seq 1 100); do
    url=$(sed -n 's/^scepd: serving SCEP at //p' "$tmp/scepd.out")
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || {
    echo "ocsp_run.sh: scepd did not start" >&2
    exit 1
}
base=${url%/scep}

echo "enrolling $CERTS certificates with scepc"
for i in $(seq 1 "$CERTS"); do
    "$scepc" enroll --url "$url" --challenge "$challenge" --subject "CN=ocsp-bench-$i" \
        --key "$tmp/c$i.key" --cert "$tmp/c$i.crt" >/dev/null 2>&1 || {
        echo "ocsp_run.sh: enrollment $i failed" >&2
        exit 1
    }
done
serial1=$(openssl x509 -in "$tmp/c1.crt" -noout -serial | sed 's/^serial=//')
"$scepctl" --state-dir "$state" revoke "$serial1" --reason keyCompromise >/dev/null || exit 1

# OpenSSL's index.txt from the store: status, notAfter (YYMMDDHHMMSSZ),
# revocation (time,reason), serial, file, subject.
sqlite3 -batch -noheader -separator '|' "$state/scepd.db" \
    "SELECT status, not_after, revoked_at, serial, subject FROM certificates;" |
    python3 -c '
import sys, time
for line in sys.stdin:
    st, na, ra, serial, subj = line.rstrip("\n").split("|", 4)
    t = lambda s: time.strftime("%y%m%d%H%M%SZ", time.gmtime(int(s)))
    rev = t(ra) + ",keyCompromise" if st == "1" else ""
    dn = "/" + "/".join(reversed(subj.split(",")))
    print("\t".join(["R" if st == "1" else "V", t(na), rev, serial, "unknown", dn]))
' >"$tmp/index.txt"
printf 'unique_subject = no\n' >"$tmp/index.txt.attr"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl ocsp -index "$tmp/index.txt" -port "$port" -rsigner "$state/ca.crt" \
    -rkey "$state/ca.key" -CA "$state/ca.crt" -multi 2 -ignore_err \
    >"$tmp/openssl.log" 2>&1 &
ossl_pid=$!

for i in $(seq 1 "$CERTS"); do
    openssl ocsp -issuer "$state/ca.crt" -cert "$tmp/c$i.crt" -no_nonce \
        -reqout "$tmp/plain$i.der" >/dev/null 2>&1 || exit 1
    openssl ocsp -issuer "$state/ca.crt" -cert "$tmp/c$i.crt" \
        -reqout "$tmp/nonce$i.der" >/dev/null 2>&1 || exit 1
done

# Both must answer, and say revoked for c1, before anything is timed.
for u in "$base/ocsp" "http://127.0.0.1:$port"; do
    ok=0
    for _ in $(seq 1 50); do
        if openssl ocsp -issuer "$state/ca.crt" -CAfile "$state/ca.crt" -cert "$tmp/c1.crt" \
            -url "$u" >"$tmp/check.txt" 2>&1; then
            ok=1
            break
        fi
        sleep 0.1
    done
    out=$(cat "$tmp/check.txt")
    case $ok$out in
        1*': revoked'*) ;;
        *)
            echo "ocsp_run.sh: $u did not answer revoked for c1: $out" >&2
            exit 1
            ;;
    esac
done

plain=()
nonce=()
for i in $(seq 1 "$CERTS"); do
    plain+=("$tmp/plain$i.der")
    nonce+=("$tmp/nonce$i.der")
done

status=0
declare -A rates
run() { # NAME URL FILES...
    local name=$1 u=$2 out rate
    shift 2
    out=$("$load" "$u" "$THREADS" "$SECONDS_EACH" "$@") || status=1
    rate=$(printf '%s\n' "$out" | sed -n 's/^responses\/s=\([0-9]*\).*/\1/p')
    printf '%-22s %s\n' "$name" "$out"
    rates[$name]="${rates[$name]:-} ${rate:-0}"
}
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    run scepd-no-nonce "$base/ocsp" "${plain[@]}"
    run openssl-no-nonce "http://127.0.0.1:$port" "${plain[@]}"
    run scepd-nonce "$base/ocsp" "${nonce[@]}"
    run openssl-nonce "http://127.0.0.1:$port" "${nonce[@]}"
done

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "median responses/s (THREADS=$THREADS, $ROUNDS rounds of ${SECONDS_EACH}s, RSA-$CA_BITS CA, $CERTS certificates)"
for c in no-nonce nonce; do
    s=$(median "${rates[scepd-$c]}")
    o=$(median "${rates[openssl-$c]}")
    ratio=$(python3 -c "print('%.1f' % ($s / $o) if $o > 0 else 'n/a')")
    printf '  %-9s scepd %7s  openssl %7s  ratio %s\n' "$c" "$s" "$o" "$ratio"
done
exit $status
