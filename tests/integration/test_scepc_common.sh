# Shared helpers of the scepc integration tests (sourced, not run).
# Needs SCEPC (and SCEPD for the scepd tests) from CTest's environment.
set -eu

: "${SCEPC:?set SCEPC to the scepc binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scepc-test.XXXXXX")
PIDS=""

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_scepd DIR [extra flags...]: starts scepd, sets URL.
start_scepd() {
    dir=$1; shift
    : "${SCEPD:?set SCEPD to the scepd binary}"
    mkdir -p "$dir"
    : >"$dir/out.log"
    "$SCEPD" --state-dir "$dir/state" --listen 127.0.0.1:0 --challenge "$CHALLENGE" "$@" \
        >"$dir/out.log" 2>"$dir/err.log" &
    PIDS="$PIDS $!"
    i=0
    URL=""
    while [ $i -lt 100 ]; do
        URL=$(sed -n 's/^scepd: serving SCEP at //p' "$dir/out.log" 2>/dev/null || true)
        [ -n "$URL" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    cat "$dir/err.log" >&2
    fail "scepd did not start"
}

# expect_rc WANT CMD...: runs CMD and checks its exit status.
expect_rc() {
    want=$1; shift
    set +e
    "$@" 2>"$WORK/stderr"
    got=$?
    set -e
    if [ "$got" -ne "$want" ]; then
        cat "$WORK/stderr" >&2
        fail "exit $got, wanted $want: $*"
    fi
}

# no_files F...: fails when any of the files (or their temporaries) exists.
no_files() {
    for f in "$@"; do
        ls "$f" "$f".tmp.* >/dev/null 2>&1 && fail "$f was left behind"
    done
    return 0
}

subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
serial_of() { openssl x509 -in "$1" -noout -serial; }
