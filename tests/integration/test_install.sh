#!/usr/bin/env bash
# `cmake --install` lays out what a packager ships: scepd in sbin,
# scepctl and scepc in bin, the public headers, libscep (shared and
# static) with its pkg-config file, and the man pages.  Then a program
# built only from the installed headers and pkg-config (the example in
# examples/enroll.c) enrolls against the real scepd.
. "$(dirname "$0")/lib.sh"
need cc pkg-config
: "${SCEP_BUILD_DIR:?SCEP_BUILD_DIR must name the build directory}"
src=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$IT_WORK/prefix

say "cmake --install into a fresh prefix"
cmake --install "$SCEP_BUILD_DIR" --prefix "$prefix" >"$IT_WORK/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -5 "$IT_WORK/install.log")"
libdir=$(cd "$prefix" && ls -d lib*/ | grep -m1 -E '^lib' | tr -d /)
for f in share/doc/scepd/scepd.conf.example sbin/scepd bin/scepctl bin/scepc include/scep/scep.h include/scep/message.h \
         include/scep/client.h include/scep/error.h "$libdir/libscep.a" "$libdir/pkgconfig/libscep.pc" \
         share/man/man8/scepd.8 share/man/man8/scepctl.8 share/man/man5/scepd.conf.5 share/man/man1/scepc.1; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
ls "$prefix/$libdir"/libscep.so* >/dev/null 2>&1 || fail "libscep.so not installed"
say "the systemd units name the installed programs"
unit=$prefix/lib/systemd/system/scepd.service
grep -qx "ExecStart=$prefix/sbin/scepd --config /etc/scepd/scepd.conf" "$unit" ||
    fail "scepd.service ExecStart: $(grep ExecStart "$unit")"
grep -qx "Type=notify" "$unit" || fail "scepd.service is not Type=notify"
grep -q "^ExecStart=$prefix/bin/scepc watch " "$prefix/lib/systemd/system/scepc-watch.service" ||
    fail "scepc-watch.service ExecStart: $(grep ExecStart "$prefix/lib/systemd/system/scepc-watch.service")"
grep -q '^ReadWritePaths=-/etc/scepc -/etc/ssl -/etc/ipsec.d$' "$prefix/lib/systemd/system/scepc-watch.service" ||
    fail "scepc-watch.service ReadWritePaths lack the '-' prefix"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit" >"$IT_WORK/verify.log" 2>&1 || true
fi
[ -x "$prefix/sbin/scepd" ] || fail "scepd is not executable"

say "a program builds from the installed headers with pkg-config alone"
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
# A sanitizer build's libscep needs its runtime in the program too.
san=()
case ${SCEP_SANITIZE:-OFF} in ON|on|1|TRUE|true) san=(-fsanitize=address,undefined) ;; esac
# shellcheck disable=SC2046
# The build line examples/enroll.c gives, nothing added: libcrypto comes
# from the .pc's Requires, as the headers use its types.
cc -Wall -Werror "${san[@]}" -o "$IT_WORK/enroll" "$src/examples/enroll.c" $(pkg-config --cflags --libs libscep) \
    2>"$IT_WORK/cc.err" || fail "building against the installed libscep failed: $(cat "$IT_WORK/cc.err")"

say "the installed scepd serves and the installed-library program enrolls"
SCEPD=$prefix/sbin/scepd
scepd_start inst
LD_LIBRARY_PATH=$prefix/$libdir "$IT_WORK/enroll" "$SCEPD_URL" "$IT_CHALLENGE" "CN=installed-example" \
    >"$IT_WORK/cert.pem" 2>"$IT_WORK/enroll.err" || fail "example enrollment failed: $(cat "$IT_WORK/enroll.err")"
check_verifies "$IT_WORK/cert.pem" "$SCEPD_STATE/ca.crt"
check_stored "$IT_WORK/cert.pem"
man -l "$prefix/share/man/man8/scepd.8" >/dev/null 2>&1 || true
scepd_stop
