#!/usr/bin/env bash
# Failures of the certificate store under a running scepd.  A
# PKIOperation must then fail with a 5xx and never answer SUCCESS for a
# certificate that is not durably stored, and the other operations go on.
#  1. The database file is deleted: SQLite would go on writing into the
#     unlinked file, so scepd checks; PKIOperation and /healthz get 503.
#  2. The disk is full (a 1 MiB tmpfs, filled up; needs the privilege to
#     mount, skipped without it): PKIOperation gets 500, and once space
#     is free again enrollment works and the audit chain verifies.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl

mkdir -p "$IT_WORK/k" "$IT_WORK/c"
for i in 1 2 3 4 5; do rsa_key "$IT_WORK/k/$i.pem"; done

# status_of_last_pkiop: HTTP status of the last PKIOperation logged.
status_of_last_pkiop() {
    grep 'msg=request' "$SCEPD_LOG" | grep 'op=PKIOperation' | tail -n 1 |
        sed -n 's/.* status=\([0-9]*\) .*/\1/p'
}

say "database file deleted under a running scepd"
scepd_start gone --workers 2
fetch_ca_certs "$IT_WORK/ca"
base=${SCEPD_URL%/*}
sw_enroll "$IT_WORK/k/1.pem" "$IT_WORK/c/1.crt" "$IT_WORK/ca" aes sha256 "CN=before" \
    --password "$IT_CHALLENGE" || fail "enrollment before the deletion failed"
check_stored "$IT_WORK/c/1.crt"
rm -f "$SCEPD_STATE/scepd.db"
sw_enroll "$IT_WORK/k/2.pem" "$IT_WORK/c/2.crt" "$IT_WORK/ca" aes sha256 "CN=after-delete" \
    --password "$IT_CHALLENGE" --maxpolltime 1 && fail "enrollment succeeded with the database file deleted"
[ ! -s "$IT_WORK/c/2.crt" ] || fail "a certificate was handed out with the database file deleted"
st=$(status_of_last_pkiop)
[ "$st" = 503 ] || fail "PKIOperation with the database deleted: HTTP $st (want 503)"
grep 'op=PKIOperation' "$SCEPD_LOG" | tail -n 1 | grep -q 'certificate store unavailable' ||
    fail "the refusal does not say why"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$st" = 503 ] || fail "/healthz with the database deleted: HTTP $st (want 503)"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=GetCACert")
[ "$st" = 200 ] || fail "GetCACert with the database deleted: HTTP $st (want 200)"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=GetCACaps")
[ "$st" = 200 ] || fail "GetCACaps with the database deleted: HTTP $st (want 200)"
scepd_stop

say "a full disk"
MNT=$IT_WORK/small
mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
    say "cannot mount a tmpfs (needs root): skipping the full-disk part"
    exit 0
fi
trap 'rc=$?; set +e; for p in "${IT_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; umount -l "$MNT" 2>/dev/null; (exit $rc); it_cleanup' EXIT
SCEPD_CA_ARGS=(--ca-rsa-bits 2048)
"$SCEPD" --state-dir "$MNT/state" --listen 127.0.0.1:0 --challenge "$IT_CHALLENGE" --workers 1 \
    "${SCEPD_CA_ARGS[@]}" >"$IT_WORK/full.scepd.out" 2>>"$IT_WORK/full.scepd.log" &
SCEPD_PID=$!
IT_PIDS+=("$SCEPD_PID")
SCEPD_STATE=$MNT/state
SCEPD_LOG=$IT_WORK/full.scepd.log
SCEPD_URL=
for i in $(seq 1 200); do
    SCEPD_URL=$(sed -n 's/^scepd: serving SCEP at //p' "$IT_WORK/full.scepd.out")
    [ -n "$SCEPD_URL" ] && break
    kill -0 "$SCEPD_PID" 2>/dev/null || fail "scepd on the tmpfs exited before it was ready"
    sleep 0.1
done
[ -n "$SCEPD_URL" ] || fail "scepd on the tmpfs printed no ready line"
base=${SCEPD_URL%/*}
fetch_ca_certs "$IT_WORK/ca2"
sw_enroll "$IT_WORK/k/3.pem" "$IT_WORK/c/3.crt" "$IT_WORK/ca2" aes sha256 "CN=room" \
    --password "$IT_CHALLENGE" || fail "enrollment on the tmpfs failed before it was full"
check_stored "$IT_WORK/c/3.crt"
before=$(store_sql "SELECT count(*) FROM certificates;")
dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true
say "tmpfs full ($(df -k "$MNT" | awk 'NR==2 {print $4}') KiB free)"
rc=0
sw_enroll "$IT_WORK/k/4.pem" "$IT_WORK/c/4.crt" "$IT_WORK/ca2" aes sha256 "CN=full" \
    --password "$IT_CHALLENGE" --maxpolltime 1 || rc=$?
st=$(status_of_last_pkiop)
if [ "$rc" = 0 ]; then
    # SQLite may still have had room in its WAL file: then the
    # certificate must really be there.
    say "the enrollment fitted into space SQLite already held; it must be stored"
    check_stored "$IT_WORK/c/4.crt"
else
    [ ! -s "$IT_WORK/c/4.crt" ] || fail "a certificate was handed out although the enrollment failed"
    [ "$st" = 500 ] || fail "PKIOperation on a full disk: HTTP $st (want 500)"
    grep 'op=PKIOperation' "$SCEPD_LOG" | tail -n 1 | grep -q 'outcome=success' &&
        fail "a PKIOperation on a full disk was logged as a success"
    n=$(store_sql "SELECT count(*) FROM certificates;")
    [ "$n" = "$before" ] || fail "the store holds $n certificates (want $before)"
    say "PKIOperation on a full disk: HTTP 500, nothing handed out"
fi
st=$(curl -sS -o /dev/null -w '%{http_code}' "$SCEPD_URL?operation=GetCACert")
[ "$st" = 200 ] || fail "GetCACert on a full disk: HTTP $st (want 200)"
rm -f "$MNT/fill"
sw_enroll "$IT_WORK/k/5.pem" "$IT_WORK/c/5.crt" "$IT_WORK/ca2" aes sha256 "CN=freed" \
    --password "$IT_CHALLENGE" || fail "enrollment failed after space was freed: $(tail -n 3 "$IT_WORK/c/5.crt.log")"
check_stored "$IT_WORK/c/5.crt"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null || fail "scepctl audit --verify failed after the full disk"
scepd_stop
