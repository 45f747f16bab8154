#!/usr/bin/env bash
# libscep's ABI is what `nm -D` shows on the installed libscep.so: it must
# be exactly the functions include/scep/*.h declares, no more (an internal
# helper that leaks becomes a promise to every program linking it) and no
# fewer (a declared function that is not exported fails at link time).
# Checks too that the version script (dist/libscep.map) agrees with the
# headers, and that the installed programs carry libscep statically (they
# call hidden internals, so they must not need libscep.so at run time).
. "$(dirname "$0")/lib.sh"
need cc nm readelf
: "${SCEP_BUILD_DIR:?SCEP_BUILD_DIR must name the build directory}"
src=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$IT_WORK/prefix

say "cmake --install into a fresh prefix"
cmake --install "$SCEP_BUILD_DIR" --prefix "$prefix" >"$IT_WORK/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -5 "$IT_WORK/install.log")"
libdir=$(cd "$prefix" && ls -d lib*/ | grep -m1 -E '^lib' | tr -d /)
so=$(ls "$prefix/$libdir"/libscep.so.* 2>/dev/null | head -1)
[ -n "$so" ] || fail "libscep.so not installed"

# Declared functions: every identifier followed by '(' in the installed
# headers once comments are gone (-fpreprocessed strips comments without
# expanding includes or macros).  Struct members that are function
# pointers are named get/post/release, not scep_*, so they never match.
say "functions declared in the installed include/scep/*.h"
for h in "$prefix"/include/scep/*.h; do
    cc -fpreprocessed -dD -E -P "$h" 2>"$IT_WORK/cpp.err" ||
        fail "cannot read $h: $(cat "$IT_WORK/cpp.err")"
done | tr '\n' ' ' | grep -oE '\bscep_[A-Za-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:](]*$//' |
    sort -u >"$IT_WORK/declared"
[ "$(wc -l <"$IT_WORK/declared")" -ge 50 ] ||
    fail "only $(wc -l <"$IT_WORK/declared") functions found in the headers: is the parse broken?"

# Exported symbols: every defined dynamic symbol, version suffix
# (@@SCEP_0) cut, except the version node itself (type A).
say "symbols exported by $(basename "$so")"
nm -D --defined-only "$so" >"$IT_WORK/nm.out" || fail "nm -D failed on $so"
awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' "$IT_WORK/nm.out" | sort -u >"$IT_WORK/exported"
awk '$2 != "A" && $2 != "T" { print }' "$IT_WORK/nm.out" >"$IT_WORK/nonfunc"
[ -s "$IT_WORK/nonfunc" ] && fail "libscep.so exports data, not only functions: $(tr '\n' ' ' <"$IT_WORK/nonfunc")"

leaked=$(comm -13 "$IT_WORK/declared" "$IT_WORK/exported")
[ -z "$leaked" ] || fail "exported but not declared in include/scep/ (internal symbols leak): $(echo $leaked)"
missing=$(comm -23 "$IT_WORK/declared" "$IT_WORK/exported")
[ -z "$missing" ] || fail "declared in include/scep/ but not exported (SCEP_API or dist/libscep.map missing): $(echo $missing)"
say "$(wc -l <"$IT_WORK/exported") functions exported, each declared, none missing"

say "dist/libscep.map lists exactly the declared functions"
sed -n '/global:/,/local:/p' "$src/dist/libscep.map" | grep -oE '^[[:space:]]*scep_[A-Za-z0-9_]+;' |
    tr -d ' ;' | sort -u >"$IT_WORK/mapped"
diff -u "$IT_WORK/declared" "$IT_WORK/mapped" >"$IT_WORK/map.diff" ||
    fail "dist/libscep.map and include/scep/ disagree: $(cat "$IT_WORK/map.diff")"

say "every public declaration carries SCEP_API"
for h in "$prefix"/include/scep/*.h; do
    cc -fpreprocessed -dD -E -P "$h" 2>/dev/null
done | grep -E '^[A-Za-z].*\bscep_[A-Za-z0-9_]+[[:space:]]*\(' | grep -vE '^(SCEP_API|#)' >"$IT_WORK/bare" || true
[ -s "$IT_WORK/bare" ] && fail "declarations without SCEP_API: $(cat "$IT_WORK/bare")"

say "the installed programs do not load libscep.so"
for p in sbin/scepd bin/scepctl bin/scepc; do
    readelf -d "$prefix/$p" | grep -q 'NEEDED.*libscep\.so' &&
        fail "$p needs libscep.so but calls its hidden internals; link it statically"
done
say "ok"
