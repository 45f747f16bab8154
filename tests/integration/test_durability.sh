#!/usr/bin/env bash
# A certificate a client has received must survive a crash of scepd: the
# store commits (synchronously) before the CertRep is sent.  Two crashes
# by SIGKILL: right after the last of a run of sequential enrollments, and
# in the middle of a parallel burst.  After each restart on the same state
# dir, every certificate a client got back is in the store, found both by
# its DER and by scepctl show SERIAL.
. "$(dirname "$0")/lib.sh"
need pki openssl sqlite3 curl

N=10     # sequential enrollments before the first crash
BURST=12 # parallel enrollments during the second crash

# check_all_stored DIR: every certificate a client received in DIR.
check_all_stored() {
    local c n=0 serial
    for c in "$1"/*.crt; do
        [ -s "$c" ] || continue
        check_stored "$c"
        serial=$(cert_serial "$c")
        "$SCEPCTL" --state-dir "$SCEPD_STATE" show "$serial" >/dev/null 2>"$IT_WORK/show.err" ||
            fail "scepctl show $serial: $(cat "$IT_WORK/show.err")"
        n=$((n + 1))
    done
    say "all $n received certificates are in the store"
}

say "generating $((N + BURST + 1)) client keys"
mkdir -p "$IT_WORK/seq" "$IT_WORK/burst"
for i in $(seq 1 $((N + BURST + 1))); do
    rsa_key "$IT_WORK/k$i.pem"
done

scepd_start dur
fetch_ca_certs "$IT_WORK/ca"

say "$N sequential strongSwan enrollments, then kill -9 at once"
for i in $(seq 1 "$N"); do
    sw_enroll "$IT_WORK/k$i.pem" "$IT_WORK/seq/c$i.crt" "$IT_WORK/ca" aes sha256 "CN=dur-$i" \
        --password "$IT_CHALLENGE" || fail "enrollment $i failed: $(tail -n 3 "$IT_WORK/seq/c$i.crt.log")"
done
scepd_kill9
n=$(ls "$IT_WORK"/seq/*.crt | wc -l)
[ "$n" = "$N" ] || fail "only $n of $N sequential enrollments returned a certificate"

say "restart on the same state dir"
scepd_start dur
check_all_stored "$IT_WORK/seq"

say "parallel burst of $BURST enrollments, kill -9 once some have been answered"
pids=()
for i in $(seq $((N + 1)) $((N + BURST))); do
    ( rc=0
      sw_enroll "$IT_WORK/k$i.pem" "$IT_WORK/burst/c$i.out" "$IT_WORK/ca" aes sha256 "CN=burst-$i" \
          --password "$IT_CHALLENGE" --maxpolltime 1 || rc=$?
      # Only a client that finished successfully has "received" its
      # certificate; a killed exchange may leave an empty file.
      [ "$rc" -eq 0 ] && mv "$IT_WORK/burst/c$i.out" "$IT_WORK/burst/c$i.crt"
      exit 0 ) &
    pids+=($!)
done
for i in $(seq 1 300); do
    [ "$(ls "$IT_WORK"/burst/*.crt 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.02
done
scepd_kill9
for p in "${pids[@]}"; do wait "$p" || true; done
got=$(ls "$IT_WORK"/burst/*.crt 2>/dev/null | wc -l)
say "$got of $BURST burst clients received a certificate before the crash"
[ "$got" -ge 1 ] || fail "no burst client received a certificate before the crash"

say "restart on the same state dir"
scepd_start dur
check_all_stored "$IT_WORK/burst"
check_all_stored "$IT_WORK/seq"

say "the audit chain survived both crashes"
"$SCEPCTL" --state-dir "$SCEPD_STATE" audit --verify >/dev/null || fail "scepctl audit --verify failed after the crashes"

say "scepd still issues after the crashes"
sw_enroll "$IT_WORK/k$((N + BURST + 1)).pem" "$IT_WORK/after.crt" "$IT_WORK/ca" des3 sha256 "CN=after" \
    --password "$IT_CHALLENGE" || fail "enrollment after restart failed: $(tail -n 3 "$IT_WORK/after.crt.log")"
check_stored "$IT_WORK/after.crt"

scepd_stop
