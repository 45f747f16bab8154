#!/usr/bin/env bash
# lint.format: fails when a C source or header differs from what
# clang-format makes of it with the repository's .clang-format, so that
# style is never a review comment.  Prints the files and the first lines
# of the difference.  To fix: scripts/check_format.sh --fix.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
fix=0
if [ "${1:-}" = --fix ]; then
    fix=1
    root=$(cd "$(dirname "$0")/.." && pwd)
fi
cd "$root"
command -v clang-format >/dev/null 2>&1 ||
    { echo "lint.format: clang-format is missing (run scripts/deps.sh)" >&2; exit 1; }

# Every C file the project owns: the library, the programs, the tests,
# the benchmarks and the examples.
mapfile -t files < <(find include lib src tests bench examples -type f \( -name '*.c' -o -name '*.h' \) \
                          -not -path '*/corpus/*' | LC_ALL=C sort)
[ "${#files[@]}" -gt 0 ] || { echo "lint.format: no C files found under $root" >&2; exit 1; }

if [ "$fix" = 1 ]; then
    clang-format -i --style=file "${files[@]}"
    echo "lint.format: formatted ${#files[@]} files"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        bad+=("$f")
    fi
done
if [ "${#bad[@]}" -gt 0 ]; then
    echo "lint.format: ${#bad[@]} of ${#files[@]} files differ from clang-format (fix: scripts/check_format.sh --fix):"
    for f in "${bad[@]}"; do
        echo "  $f"
        # diff exits 1 on a difference; that is the point here, not a failure.
        { clang-format --style=file "$f" | diff -u "$f" - || true; } | sed -n '3,12p' | sed 's/^/    /'
    done
    exit 1
fi
echo "lint.format: all ${#files[@]} files formatted"
