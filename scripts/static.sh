#!/usr/bin/env bash
# Static analysis as CI runs it: cppcheck over lib/ and src/ with the
# justified suppressions of scripts/cppcheck.suppress; any report fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command -v cppcheck >/dev/null 2>&1 || { echo "static.sh: cppcheck is needed (scripts/deps.sh)" >&2; exit 1; }
cd "$root"
cppcheck --quiet --enable=warning,portability,performance --std=c11 --inline-suppr \
    --suppressions-list=scripts/cppcheck.suppress -I include -I lib -j2 \
    --template='{file}:{line}: {severity} ({id}): {message}' --error-exitcode=1 lib src
echo "static.sh: cppcheck: no reports"
