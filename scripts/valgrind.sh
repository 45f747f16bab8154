#!/usr/bin/env bash
# Valgrind memcheck over the unit tests that do not spend their time in
# RSA key generation (under Valgrind a 2048-bit key takes seconds, and
# those tests run minutes; they run under ASan + UBSan in scripts/test.sh
# instead).  Any error or definite leak fails.  BUILD_DIR: a built tree
# (default build-test).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-test}
tests=(test_config test_util_hex test_util_atomic_file test_scepd_route test_scepd_limits
       test_scepd_metrics test_ratelimit test_webhook test_msg_encoding test_store_sqlite
       test_store_sqlite_audit test_store_sqlite_migrate test_notify)
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: valgrind is needed (scripts/deps.sh)" >&2; exit 1; }
failed=0
for t in "${tests[@]}"; do
    exe=$build/tests/unit/$t
    [ -x "$exe" ] || { echo "valgrind.sh: $exe not built" >&2; failed=1; continue; }
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$exe" >"$build/valgrind.$t.log" 2>&1; then
        echo "valgrind.sh: $t clean"
    else
        echo "valgrind.sh: $t FAILED:" >&2
        tail -n 40 "$build/valgrind.$t.log" >&2
        failed=1
    fi
done
exit "$failed"
