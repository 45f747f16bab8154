# Common helpers for the integration tests (sourced, not run).
#
# Each test gets a private temp directory ($IT_WORK), starts the real
# scepd on 127.0.0.1 with port 0 (so tests never collide on a port and
# run in parallel under CTest), reads the URL from scepd's one ready line
# on stdout, and on exit - success, failure or signal - stops every scepd
# it started and removes the temp directory.  Nothing is left running.
#
# Environment: SCEPD and SCEPCTL (set by CTest to the built executables),
# IT_KEEP=1 keeps the temp directory for debugging.

set -euo pipefail

: "${SCEPD:?SCEPD must name the scepd executable}"
: "${SCEPCTL:?SCEPCTL must name the scepctl executable}"

IT_NAME=$(basename "$0" .sh)
IT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/scepd-it.XXXXXX")
IT_PIDS=()
IT_CHALLENGE="it-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# strongSwan's pki prints two lines about a missing TPM library on every
# start; they are noise here.
IT_PKI_NOISE='TPM 2.0|plugin .tpm.'

# Prints a check being made, so that a failing test's output reads as a
# list of what held before the failure.
say() { printf '== %s: %s\n' "$IT_NAME" "$*"; }

# Fails the test with a message and the tail of every scepd log.
fail() {
    printf 'FAIL %s: %s\n' "$IT_NAME" "$*" >&2
    local f
    for f in "$IT_WORK"/*.scepd.log; do
        [ -e "$f" ] || continue
        printf -- '--- last lines of %s\n' "$f" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || fail "required tool '$c' is missing (run scripts/deps.sh)"
    done
}

# it_on_exit CMD...: runs CMD at exit, after every scepd is stopped and
# before the temp directory goes (pg.sh stops its server so).
IT_ON_EXIT=()
it_on_exit() { IT_ON_EXIT+=("$*"); }

it_cleanup() {
    local rc=$? pid i hook
    for pid in "${IT_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    for hook in "${IT_ON_EXIT[@]}"; do
        eval "$hook" || true
    done
    if [ "${IT_KEEP:-0}" = 1 ]; then
        printf '%s: kept %s\n' "$IT_NAME" "$IT_WORK" >&2
    else
        rm -rf "$IT_WORK"
    fi
    if [ "$rc" -eq 0 ]; then
        printf 'PASS %s\n' "$IT_NAME"
    fi
    exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

# scepd_start NAME [scepd args...]
# Starts scepd with state in $IT_WORK/NAME and the test's challenge, waits
# (at most 20 s) for "scepd: serving SCEP at URL", and sets SCEPD_PID,
# SCEPD_URL, SCEPD_STATE and SCEPD_LOG (stderr, logfmt).  Several calls
# with the same NAME reuse the state (a restart).
scepd_start() {
    local name=$1 out i line
    shift
    SCEPD_STATE=$IT_WORK/$name
    SCEPD_LOG=$IT_WORK/$name.scepd.log
    out=$IT_WORK/$name.scepd.out
    : >"$out"
    "$SCEPD" --state-dir "$SCEPD_STATE" --listen 127.0.0.1:0 \
        --challenge "$IT_CHALLENGE" "$@" >"$out" 2>>"$SCEPD_LOG" &
    SCEPD_PID=$!
    IT_PIDS+=("$SCEPD_PID")
    SCEPD_URL=
    for i in $(seq 1 200); do
        line=$(grep -m1 '^scepd: serving SCEP at ' "$out" || true)
        if [ -n "$line" ]; then
            SCEPD_URL=${line#scepd: serving SCEP at }
            break
        fi
        kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd exited before it was ready (args: $*)"
        sleep 0.1
    done
    [ -n "$SCEPD_URL" ] || fail "scepd printed no 'serving SCEP at' line within 20 s"
    case $SCEPD_URL in
        http://127.0.0.1:*/*) ;;
        *) fail "unexpected URL in scepd's ready line: '$SCEPD_URL'" ;;
    esac
    say "scepd pid $SCEPD_PID serving at $SCEPD_URL"
}

# scepd_stop: SIGTERM, and scepd must exit 0 within 10 s.
scepd_stop() {
    local i rc=0
    kill -TERM "$SCEPD_PID"
    for i in $(seq 1 100); do
        kill -0 "$SCEPD_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SCEPD_PID" 2>/dev/null && fail "scepd did not exit within 10 s of SIGTERM"
    wait "$SCEPD_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "scepd exited with status $rc after SIGTERM (want 0)"
}

# scepd_kill9: no chance to flush or close anything.
scepd_kill9() {
    kill -KILL "$SCEPD_PID"
    wait "$SCEPD_PID" 2>/dev/null || true
}

# The store of the current state dir (sqlite3 CLI; scepd keeps it in WAL
# mode, which a concurrent reader handles).
store_sql() { sqlite3 -batch -noheader "$SCEPD_STATE/scepd.db" "$1"; }

# cert_der_hex CERT: the certificate's DER as uppercase hex (CERT PEM or DER).
cert_der_hex() {
    local form=PEM
    grep -q -- '-----BEGIN CERTIFICATE' "$1" 2>/dev/null || form=DER
    openssl x509 -inform "$form" -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F
}

# cert_serial CERT: uppercase hex serial as openssl prints it.
cert_serial() {
    local form=PEM
    grep -q -- '-----BEGIN CERTIFICATE' "$1" 2>/dev/null || form=DER
    openssl x509 -inform "$form" -in "$1" -noout -serial | sed 's/^serial=//'
}

# check_stored CERT: the very certificate (byte for byte) is in the store.
check_stored() {
    local hex n
    hex=$(cert_der_hex "$1")
    n=$(store_sql "SELECT count(*) FROM certificates WHERE hex(der) = '$hex';")
    [ "$n" = 1 ] || fail "certificate $1 (serial $(cert_serial "$1")) is not in the store (found $n)"
}

# check_verifies CERT CAFILE: chain check by openssl, not by us.
check_verifies() {
    local form=PEM
    grep -q -- '-----BEGIN CERTIFICATE' "$1" || form=DER
    openssl x509 -inform "$form" -in "$1" -out "$1.verify.pem"
    openssl verify -CAfile "$2" "$1.verify.pem" >/dev/null 2>"$IT_WORK/verify.err" ||
        fail "openssl verify of $1 against $2 failed: $(cat "$IT_WORK/verify.err")"
}

# check_same_key CERT KEY: the certificate certifies exactly this key.
check_same_key() {
    local form=PEM a b
    grep -q -- '-----BEGIN CERTIFICATE' "$1" || form=DER
    a=$(openssl x509 -inform "$form" -in "$1" -noout -pubkey)
    b=$(openssl pkey -in "$2" -pubout)
    [ "$a" = "$b" ] || fail "public key of $1 differs from the key in $2"
}

# fetch_ca_certs DIR: GetCACert with curl into DIR, classified for
# strongSwan: DIR/enc.der (encrypt to), DIR/sig.der (verifies CertReps),
# DIR/ca.pem (the CA).  A plain CA answer is one DER certificate; with an
# RA it is a certs-only PKCS#7 holding the RA and the CA.
fetch_ca_certs() {
    local dir=$1 ct f
    mkdir -p "$dir"
    ct=$(curl -sS -o "$dir/cacert.bin" -w '%{content_type}' \
        "$SCEPD_URL?operation=GetCACert&message=CAIdentifier") || fail "GetCACert failed"
    case $ct in
        application/x-x509-ca-cert*)
            openssl x509 -inform DER -in "$dir/cacert.bin" -out "$dir/ca.pem"
            cp "$dir/cacert.bin" "$dir/enc.der"
            cp "$dir/cacert.bin" "$dir/sig.der"
            ;;
        application/x-x509-ca-ra-cert*)
            openssl pkcs7 -inform DER -in "$dir/cacert.bin" -print_certs -out "$dir/all.pem"
            rm -f "$dir"/c-*.pem
            awk -v d="$dir" '/BEGIN CERT/{n++} n{print > (d "/c-" n ".pem")}' "$dir/all.pem"
            for f in "$dir"/c-*.pem; do
                # The CA is the self-issued one; the RA is issued by it.
                if [ "$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')" = \
                     "$(openssl x509 -in "$f" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')" ]; then
                    cp "$f" "$dir/ca.pem"
                else
                    openssl x509 -in "$f" -outform DER -out "$dir/enc.der"
                    cp "$dir/enc.der" "$dir/sig.der"
                fi
            done
            ;;
        *) fail "GetCACert answered Content-Type '$ct'" ;;
    esac
    [ -s "$dir/ca.pem" ] && [ -s "$dir/enc.der" ] || fail "GetCACert: no CA/RA certificate found"
    cmp -s <(openssl x509 -in "$dir/ca.pem" -outform DER) \
           <(openssl x509 -in "$SCEPD_STATE/ca.crt" -outform DER) ||
        fail "GetCACert's CA certificate differs from $SCEPD_STATE/ca.crt"
}

# mm_enroll CN [challenge]: micromdm scepclient (POST, DES-CBC, SHA-1,
# whatever the server advertises) with a new key in $IT_WORK/CN/key.pem;
# the certificate goes to $IT_WORK/CN/cert.pem, its output to
# $IT_WORK/CN/log.  Each enrollment needs a directory of its own: the
# client keeps csr.pem and self.pem beside the key and reuses an existing
# csr.pem, whatever key it is given.  MM_URL overrides the URL, MM_ARGS
# adds options (word-split).
mm_enroll() {
    local d=$IT_WORK/$1
    mkdir -p "$d"
    scepclient -server-url "${MM_URL:-$SCEPD_URL}" -challenge "${2:-$IT_CHALLENGE}" \
        -private-key "$d/key.pem" -certificate "$d/cert.pem" -cn "$1" -keySize 2048 \
        ${MM_ARGS:-} >"$d/log" 2>&1
}

# sw_enroll KEY OUT CADIR CIPHER DIGEST DN [pki options...]: strongSwan
# pki --scep; log in OUT.log with the TPM noise removed.
sw_enroll() {
    local key=$1 out=$2 cadir=$3 cipher=$4 digest=$5 dn=$6 rc=0
    shift 6
    pki --scep --url "$SCEPD_URL" --in "$key" --dn "$dn" \
        --cacert-enc "$cadir/enc.der" --cacert-sig "$cadir/sig.der" \
        --cacert "$cadir/ca.pem" --cipher "$cipher" --digest "$digest" \
        --interval 1 --maxpolltime 10 --outform pem "$@" \
        >"$out" 2>"$out.rawlog" || rc=$?
    grep -Ev "$IT_PKI_NOISE" "$out.rawlog" >"$out.log" || true
    return "$rc"
}

# rsa_key FILE: a fresh 2048-bit RSA key (PEM, PKCS#8).
# race_wait PID...: waits for every racer; RACE_WON is how many exited
# 0, RACE_WINNER the position (from 1) of the last of them.
race_wait() {
    local i=0 p
    RACE_WON=0 RACE_WINNER=
    for p in "$@"; do
        i=$((i + 1))
        if wait "$p"; then
            RACE_WON=$((RACE_WON + 1))
            RACE_WINNER=$i
        fi
    done
}

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# proxy_start NAME [scep_proxy.py options...]: starts the proxy in front
# of the current scepd and sets PROXY_URL (same path as SCEPD_URL).
proxy_start() {
    local name=$1 out i line port hostport
    shift
    out=$IT_WORK/$name.proxy.out
    : >"$out"
    hostport=${SCEPD_URL#http://}
    hostport=${hostport%%/*}
    python3 "$(dirname "${BASH_SOURCE[0]}")/scep_proxy.py" --upstream "http://$hostport" "$@" \
        >"$out" 2>"$IT_WORK/$name.proxy.log" &
    IT_PIDS+=("$!")
    port=
    for i in $(seq 1 100); do
        line=$(grep -m1 '^proxy: listening on ' "$out" || true)
        if [ -n "$line" ]; then
            port=${line#proxy: listening on }
            break
        fi
        sleep 0.1
    done
    [ -n "$port" ] || fail "proxy $name did not start"
    PROXY_URL="http://127.0.0.1:$port/${SCEPD_URL#http://*/}"
}
