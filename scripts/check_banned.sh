#!/usr/bin/env bash
# lint.banned: fails when C code in lib/, src/ or include/ calls one of
# the functions the house style bans (STYLE.md "Untrusted input"): they
# copy without a destination size or parse without error checks.  Uses
# word boundaries and an opening parenthesis so that snprintf or
# strtol are not caught; comments naming a banned function are ignored
# when the line starts as a comment.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
banned='sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|sscanf|gets'
pattern="(^|[^A-Za-z0-9_])($banned)[[:space:]]*\\("

hits=$(cd "$root" && grep -rnE --include='*.c' --include='*.h' "$pattern" lib src include 2>/dev/null |
       grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*|//)' || true)
if [ -n "$hits" ]; then
    echo "banned functions used (see STYLE.md; use snprintf, memcpy with sizes, strtol with checks):"
    echo "$hits"
    exit 1
fi
echo "lint.banned: no banned function in lib/ src/ include/"
