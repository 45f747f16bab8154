#!/usr/bin/env bash
#
# bench/series.sh: the whole SCEP benchmark series in one command, written
# up as a Markdown report and a gnuplot chart.
#
# Five servers, each on 127.0.0.1 with its state in a temporary directory:
#   a  scepd, RSA-2048 CA (--ca-key-type rsa --ca-rsa-bits 2048)
#   s  micromdm's scepserver, RSA-2048 CA (ca -init -keySize 2048)
#   b  scepd, EC P-256 CA with an RSA-2048 RA (--ca-key-type ec-p256
#      --ca-ra-rsa-bits 2048)
#   c  scepd's default configuration (an RSA-3072 CA: no key flags)
#   d  scepd as a, its store holding MILLION certificates before the first
#      request (filled by bench/inventory_bench through the store API into
#      the very database scepd made and then serves from)
# Every round runs scep_load against each server at each concurrency c
# (CONCURRENCY, --threads c), a then s adjacent (A B), so that drift in
# the machine's load hits scepd and scepserver alike.  Per run: enroll/s,
# failures by kind (HTTP 503, other 5xx, the rest), duplicate serials
# among the certificates received (scep_load --serials, sort | uniq -d),
# latency p50/p90/p99/max, server CPU ms per answered request
# (utime + stime from /proc/PID/stat around the run), the server's peak
# RSS during the run (VmHWM, restarted per run through clear_refs).  Per
# server: idle RSS (VmRSS after start, before any load) and, for scepd,
# the start-up time with an existing CA (exec to the "serving SCEP at"
# line, median of RESTARTS restarts).  `openssl speed` gives the
# machine's RSA signatures per CPU second, hence a lower bound on a
# server's CPU per enrollment: three RSA private operations with an RSA
# CA (decrypt the request's envelope, sign the certificate, sign the
# CertRep), two with an EC CA (the RA decrypts and signs the CertRep)
# plus an ECDSA signature; every row gives its CPU as a multiple of it.
#
# Servers share the cores with scep_load, so enroll/s belongs to the
# pair; CPU per enrollment is the server's own figure.
#
# Usage: bench/series.sh [BUILD_DIR]      (default: <repo>/build)
# Environment (defaults):
#   SMOKE=0      1: c = 1 and 4, a handful of requests, MILLION=2000,
#                1 round, 3 restarts (what CTest's bench.series_smoke runs)
#   CONCURRENCY="1 4 16 64"  ENROLL=320 (enrollments per run at c > 1, split
#                over the threads)  ENROLL_C1=100 (at c = 1)  ROUNDS=3
#   WARMUP=10    enrollments per server before the first run, not counted
#   MILLION=1000000  certificates in d's store (a million: 2 minutes and
#                2.1 GB with a Release build on a 2-core VM)
#   STORE_DIR=   keep d's state (CA and filled store) in STORE_DIR/d-MILLION
#                and reuse it next time instead of filling again
#   CONFIGS="a s b c d"  which servers to run
#   RESTARTS=5   SPEED_SECONDS=2 (openssl speed -seconds)
#   OUT=<repo>/docs/benchmarks-series.md  PNG=<repo>/docs/benchmarks-series.png
#   SCEPSERVER=scepserver
#
# Exit status: 0 when every scepd run had no failure and no duplicate
# serial (scepserver's are reported, not fatal) and both files were
# written; 1 otherwise or when a server did not start; 2 when a program
# is missing.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "series.sh: no build directory $1" >&2; exit 2; }

knobs="SMOKE CONCURRENCY ENROLL ENROLL_C1 ROUNDS WARMUP MILLION STORE_DIR CONFIGS RESTARTS SPEED_SECONDS OUT PNG SCEPSERVER"
cmdline=
for k in $knobs; do
    [ -n "${!k+x}" ] && cmdline+="$k=${!k} "
done
cmdline+="bench/series.sh ${1:-}"

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
    CONCURRENCY=${CONCURRENCY:-1 4} ENROLL=${ENROLL:-8} ENROLL_C1=${ENROLL_C1:-3}
    ROUNDS=${ROUNDS:-1} WARMUP=${WARMUP:-2} MILLION=${MILLION:-2000}
    RESTARTS=${RESTARTS:-3} SPEED_SECONDS=${SPEED_SECONDS:-1}
fi
CONCURRENCY=${CONCURRENCY:-1 4 16 64}
ENROLL=${ENROLL:-320}
ENROLL_C1=${ENROLL_C1:-100}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-10}
MILLION=${MILLION:-1000000}
STORE_DIR=${STORE_DIR:-}
CONFIGS=${CONFIGS:-a s b c d}
RESTARTS=${RESTARTS:-5}
SPEED_SECONDS=${SPEED_SECONDS:-2}
OUT=${OUT:-$repo/docs/benchmarks-series.md}
PNG=${PNG:-$repo/docs/benchmarks-series.png}
SCEPSERVER=${SCEPSERVER:-scepserver}

scepd=$build/src/scepd/scepd
load=$build/bench/scep_load
inventory=$build/bench/inventory_bench
for f in "$scepd" "$load" "$inventory"; do
    if [ ! -x "$f" ]; then
        echo "series.sh: $f not built (cmake --build $build --target scepd scep_load inventory_bench)" >&2
        exit 2
    fi
done
for c in "$SCEPSERVER" gnuplot openssl python3 curl sqlite3; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "series.sh: $c not found (scripts/deps.sh installs it)" >&2
        exit 2
    fi
done

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BENCH_SCEPD=$scepd
BENCH_SCEPSERVER=$SCEPSERVER
BENCH_CHALLENGE=$(bench_challenge)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scep-series.XXXXXX")
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    bench_stop_all
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

say() { printf 'series: %s\n' "$*" >&2; }
clk=$(getconf CLK_TCK)
t_begin=$(bench_now_ms)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failed=0

# --- the machine's RSA speed, hence the bound ------------------------------
# openssl speed divides by user CPU time unless -elapsed is given, so
# these are signatures per CPU second of one core.
say "openssl speed -seconds $SPEED_SECONDS rsa2048 rsa3072 ecdsap256"
openssl speed -seconds "$SPEED_SECONDS" rsa2048 rsa3072 ecdsap256 >"$tmp/speed" 2>/dev/null
rsa2048=$(awk '$1 == "rsa" && $2 == 2048 { print $6 }' "$tmp/speed")
rsa3072=$(awk '$1 == "rsa" && $2 == 3072 { print $6 }' "$tmp/speed")
p256=$(awk '/ecdsa \(nistp256\)/ { print $(NF - 1) }' "$tmp/speed")
if [ -z "$rsa2048" ] || [ -z "$rsa3072" ] || [ -z "$p256" ]; then
    echo "series.sh: cannot read openssl speed's output:" >&2
    cat "$tmp/speed" >&2
    exit 1
fi

# --- servers -----------------------------------------------------------------
cfg_args_a="--ca-key-type rsa --ca-rsa-bits 2048"
cfg_args_b="--ca-key-type ec-p256 --ca-ra-rsa-bits 2048"
cfg_args_c=""
cfg_args_d="--ca-key-type rsa --ca-rsa-bits 2048"

# median LIST...: of numbers.
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# fill_store STATE: MILLION certificates into STATE's scepd.db, which
# scepd made; inventory_bench skips the fill when the last row is there.
fill_store() {
    local t0 t1
    say "filling d's store with $MILLION certificates (inventory_bench)"
    t0=$(bench_now_ms)
    if ! "$inventory" "sqlite:$1/scepd.db" "$MILLION" 1 >"$tmp/fill.log" 2>&1; then
        echo "series.sh: inventory_bench failed:" >&2
        cat "$tmp/fill.log" >&2
        exit 1
    fi
    t1=$(bench_now_ms)
    if grep -q '^filled ' "$tmp/fill.log"; then
        fill_s=$(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f s", t / 1000 }')
    else
        fill_s="(filled by an earlier run, reused from STORE_DIR)"
    fi
}

# start_scepd CFG: first start (makes the CA; for d, then the store is
# filled), then RESTARTS timed restarts with that CA; the last stays up.
# Sets pid_CFG, url_CFG, start_CFG (median ms), starts_CFG (all), idle_CFG.
start_scepd() {
    local n=$1 state=$tmp/$1 args i times=() last=0
    args=cfg_args_$n
    if [ "$n" = d ] && [ -n "$STORE_DIR" ]; then
        state=$STORE_DIR/d-$MILLION
        mkdir -p "$STORE_DIR"
    fi
    eval "state_$n=\$state"
    # shellcheck disable=SC2086  # several flags
    bench_scepd_start "$state" "$tmp/$n.log" ${!args} || exit 1
    bench_stop "$BENCH_PID"
    [ "$n" = d ] && fill_store "$state"
    say "scepd $n: $RESTARTS timed restarts"
    for ((i = 1; i <= RESTARTS; i++)); do
        # shellcheck disable=SC2086
        bench_scepd_start "$state" "$tmp/$n.log" ${!args} || exit 1
        times+=("$BENCH_START_MS")
        [ "$i" -lt "$RESTARTS" ] && bench_stop "$BENCH_PID"
    done
    eval "pid_$n=\$BENCH_PID url_$n=\$BENCH_URL"
    eval "start_$n=\$(median \"\${times[@]}\")"
    eval "starts_$n=\"\${times[*]}\""
    eval "idle_$n=\$(bench_mem_kb \"\$BENCH_PID\" VmRSS)"
}

for n in $CONFIGS; do
    case $n in
        a | b | c | d) start_scepd "$n" ;;
        s)
            say "scepserver: ca -init -keySize 2048, start"
            bench_scepserver_start "$tmp/s" 2048 "$tmp/s.log" || exit 1
            pid_s=$BENCH_PID url_s=$BENCH_URL start_s=$BENCH_START_MS starts_s=$BENCH_START_MS
            idle_s=$(bench_mem_kb "$BENCH_PID" VmRSS)
            ;;
        *)
            echo "series.sh: unknown configuration '$n' in CONFIGS (a s b c d)" >&2
            exit 2
            ;;
    esac
done

# What each CA really is, read from its files, and its bound in CPU ms.
bits_of() { openssl x509 -in "$1" -noout -text 2>/dev/null | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p'; }
rsa_ms() { awk -v b="$1" -v r2="$rsa2048" -v r3="$rsa3072" 'BEGIN { printf "%.4f", 1000 / (b == 3072 ? r3 : r2) }'; }
ms2048=$(rsa_ms 2048)
ms3072=$(rsa_ms 3072)
msp256=$(awk -v s="$p256" 'BEGIN { printf "%.4f", 1000 / s }')
for n in $CONFIGS; do
    case $n in
        s)
            desc_s="scepserver $("$SCEPSERVER" -version 2>&1), RSA-2048 CA"
            bound_s=$(awk -v m="$ms2048" 'BEGIN { printf "%.3f", 3 * m }')
            bound_how_s="3 x RSA-2048"
            ;;
        *)
            eval "st=\$state_$n"
            cab=$(bits_of "$st/ca.crt")
            if [ -e "$st/ra.crt" ]; then
                rab=$(bits_of "$st/ra.crt")
                eval "desc_$n=\"scepd, EC P-256 CA + RSA-$rab RA\""
                eval "bound_$n=\$(awk -v r=\"\$(rsa_ms $rab)\" -v e=$msp256 'BEGIN { printf \"%.3f\", 2 * r + e }')"
                eval "bound_how_$n=\"2 x RSA-$rab + 1 x P-256\""
            else
                eval "desc_$n=\"scepd, RSA-$cab CA\""
                eval "bound_$n=\$(awk -v r=\"\$(rsa_ms $cab)\" 'BEGIN { printf \"%.3f\", 3 * r }')"
                eval "bound_how_$n=\"3 x RSA-$cab\""
            fi
            ;;
    esac
done
[ -n "${desc_c:-}" ] && desc_c="$desc_c (the default: no key flags)"
if [ -n "${desc_d:-}" ]; then
    rows_d=$(sqlite3 "$state_d/scepd.db" 'SELECT count(*) FROM certificates')
    desc_d="$desc_d, $rows_d certificates stored"
fi

# --- runs --------------------------------------------------------------------
reqs_for() {
    if [ "$1" = 1 ]; then echo "$ENROLL_C1"; else echo $(((ENROLL + $1 - 1) / $1)); fi
}

for n in $CONFIGS; do
    eval "u=\$url_$n"
    # Page cache, SQLite's file, Go's heap: not counted.
    "$load" --url "$u" --challenge "$BENCH_CHALLENGE" --threads 1 --requests "$WARMUP" \
        >"$tmp/warmup.$n" 2>&1 || { say "warm-up of $n failed"; [ "$n" = s ] || failed=1; }
done

results=$tmp/results # cfg c round requests ok fail h503 h5xx other dup rate p50 p90 p99 max cpu hwm
: >"$results"
: >"$tmp/errors"
peak_reset=yes

# run CFG C ROUND: one scep_load run; a line of results.
run() {
    local n=$1 c=$2 r=$3 pid url per c0 c1 hwm line st dup other sf=$tmp/serials.$1.$2.$3
    eval "pid=\$pid_$n url=\$url_$n"
    per=$(reqs_for "$c")
    : >"$sf"
    bench_peak_reset "$pid" || peak_reset=no
    c0=$(bench_cpu_ticks "$pid")
    "$load" --url "$url" --challenge "$BENCH_CHALLENGE" --threads "$c" --requests "$per" \
        --label "$n" --serials "$sf" >"$tmp/out" 2>"$tmp/err"
    st=$?
    c1=$(bench_cpu_ticks "$pid")
    hwm=$(bench_mem_kb "$pid" VmHWM)
    line=$(sed -n 's/^RESULT //p' "$tmp/out")
    if [ -z "$line" ]; then
        # Setup failed (GetCACert, a worker's key): every request failed.
        line="requests=$((c * per)) failures=$((c * per)) rate=0 p50_ms=0 p90_ms=0 p99_ms=0 max_ms=0 http503=0 http5xx=0"
        cat "$tmp/out" "$tmp/err" >&2
    fi
    sed -n "s/^scep_load: worker [0-9]*: [0-9]* failed, first: /$n /p; s/^scep_load: /$n /p" \
        "$tmp/err" >>"$tmp/errors"
    dup=$(sort "$sf" | uniq -d | wc -l)
    printf '%s\n' "$line" | awk -v n="$n" -v c="$c" -v r="$r" -v dt=$((c1 - c0)) -v clk="$clk" \
        -v dup="$dup" -v hwm="${hwm:-0}" '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            q = v["requests"]; f = v["failures"]
            other = f - v["http503"] - v["http5xx"]
            printf "%s %s %s %d %d %d %d %d %d %d %s %s %s %s %s %.3f %d\n", n, c, r, q, q - f, f,
                v["http503"], v["http5xx"], other, dup, v["rate"], v["p50_ms"], v["p90_ms"],
                v["p99_ms"], v["max_ms"], (q > 0 ? dt * 1000 / clk / q : 0), hwm
        }' >>"$results"
    tail -n 1 "$results" | awk '{ printf "series: %s c=%-3s round %s  %s enroll/s  p99 %s ms  cpu %s ms/req  failures %s  dup %s\n", $1, $2, $3, $11, $14, $16, $6, $10 }' >&2
    if [ "$n" != s ]; then
        if [ $st -ne 0 ] || [ "$dup" != 0 ]; then
            failed=1
        fi
    fi
}

for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CONCURRENCY; do
        for n in $CONFIGS; do
            run "$n" "$c" "$r"
        done
    done
done

# Duplicates across all of a server's runs, not only within one.
for n in $CONFIGS; do
    d=$(cat "$tmp"/serials."$n".* 2>/dev/null | sort | uniq -d | wc -l)
    eval "alldup_$n=\$d"
    eval "received_$n=\$(cat \"\$tmp\"/serials.\"\$n\".* 2>/dev/null | wc -l)"
    [ "$n" != s ] && [ "$d" != 0 ] && failed=1
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_end=$(bench_now_ms)

# --- summary: medians over rounds per configuration and concurrency -----------
summary=$tmp/summary # cfg c runs requests rate p50 p90 p99 max cpu hwm fail h503 h5xx other dup
awk '
    function med(key, col,    n, i, j, t, a) {
        n = 0
        for (i = 1; i <= NR; i++) if (k[i] == key) a[++n] = f[i, col]
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        k[NR] = $1 " " $2
        for (c = 4; c <= NF; c++) f[NR, c] = $c
        if (!(k[NR] in seen)) { seen[k[NR]] = 1; order[++m] = k[NR] }
        runs[k[NR]]++; q[k[NR]] += $4
        for (c = 6; c <= 10; c++) sum[k[NR], c] += $c
        if ($15 > mx[k[NR]]) mx[k[NR]] = $15
        if ($17 > hw[k[NR]]) hw[k[NR]] = $17
    }
    END {
        for (i = 1; i <= m; i++) {
            key = order[i]
            printf "%s %d %d %.2f %.2f %.2f %.2f %.2f %.3f %d %d %d %d %d %d\n", key, runs[key], q[key],
                med(key, 11), med(key, 12), med(key, 13), med(key, 14), mx[key], med(key, 16),
                hw[key], sum[key, 6], sum[key, 7], sum[key, 8], sum[key, 9], sum[key, 10]
        }
    }' "$results" >"$summary"

# --- chart ---------------------------------------------------------------------
for n in $CONFIGS; do
    awk -v n="$n" '$1 == n { print $2, $5, $8 }' "$summary" >"$tmp/plot.$n"
done
{
    echo "set terminal pngcairo size 1200,600 font 'sans,10' noenhanced"
    echo "set output '$PNG'"
    echo "set multiplot layout 1,2 title 'SCEP enrollment series, $(nproc) cores, $(date -u +%Y-%m-%d) (median of rounds: $ROUNDS)'"
    echo "set logscale x 2; set xrange [$(printf '%s\n' $CONCURRENCY | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo / 1.25 ":" hi * 1.25 }')]"
    echo "set xtics ($(echo "$CONCURRENCY" | sed 's/ /, /g')); set grid; set bmargin 9"
    echo "set key at screen 0.5, screen 0.02 center bottom horizontal maxrows 3"
    echo "set xlabel 'concurrent clients (scep_load --threads)'"
    echo "set ylabel 'enrollments/s'; set yrange [0:*]"
    plot= sep=
    for n in $CONFIGS; do
        eval "t=\$desc_$n"
        w=2
        case $n in a | s) w=3 ;; esac
        plot+="$sep'$tmp/plot.$n' using 1:2 with linespoints lw $w title '$(printf '%s' "$t" | sed "s/'//g")'"
        sep=", "
    done
    echo "set title 'throughput'; plot $plot"
    echo "unset key; set ylabel 'p99 latency, ms (log)'; set logscale y; set yrange [*:*]"
    echo "set title 'p99 latency of a whole enrollment (colours as left)'; plot ${plot//using 1:2/using 1:3}"
    echo "unset multiplot"
} >"$tmp/plot.gp"
if ! gnuplot "$tmp/plot.gp" 2>"$tmp/gnuplot.err"; then
    echo "series.sh: gnuplot failed:" >&2
    cat "$tmp/gnuplot.err" >&2
    failed=1
fi

# --- report --------------------------------------------------------------------
row_of() { awk -v n="$1" -v c="$2" '$1 == n && $2 == c' "$summary"; }
mb() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
png_ref=$PNG
[ "$(dirname "$PNG")" = "$(dirname "$OUT")" ] && png_ref=$(basename "$PNG")
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)

{
    echo "# SCEP benchmark series"
    echo
    echo "Generated by \`bench/series.sh\` (see [benchmarks.md](benchmarks.md#the-whole-series-benchseriessh)"
    echo "for what it measures and how). Do not edit by hand: run it again."
    echo
    echo "- command: \`$cmdline\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(((t_end - t_begin) / 1000)) s for the whole series"
    echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(uname -sr), load average $load_before before, $load_after after"
    echo "- $(openssl version)"
    echo "- scepd $("$scepd" --version 2>&1 | head -n 1 | sed 's/^scepd //'), ${build_type:-unknown} build; $("$SCEPSERVER" -version 2>&1 | sed 's/^/scepserver /') (Debian package \`scep\`)"
    echo "- load: scep_load on the same machine, AES-128-CBC + SHA-256 requests, RSA-2048 device keys, kept-alive connections; rounds: $ROUNDS, each running every server at every concurrency ($CONCURRENCY) in turn, scepd (a) right before scepserver (s); $ENROLL_C1 enrollments per run at c = 1, $ENROLL (rounded up to a multiple of c) above; $WARMUP warm-up enrollments per server not counted"
    echo
    echo "![throughput and p99 latency against concurrency]($png_ref)"
    echo
    echo "## The bound"
    echo
    echo "\`openssl speed -seconds $SPEED_SECONDS rsa2048 rsa3072 ecdsap256\` (per CPU second of one core):"
    echo
    echo "| operation | signs/s | CPU ms each |"
    echo "| --- | ---: | ---: |"
    echo "| RSA-2048 private | $rsa2048 | $ms2048 |"
    echo "| RSA-3072 private | $rsa3072 | $ms3072 |"
    echo "| ECDSA P-256 sign | $p256 | $msp256 |"
    echo
    echo "An enrollment needs at least three RSA private operations with an RSA CA (decrypt the"
    echo "request's envelope, sign the certificate, sign the CertRep) and two with an EC CA and"
    echo "its RSA RA (the RA decrypts and signs the CertRep) plus one ECDSA signature. That is"
    echo "the bound below; \"x bound\" is a server's CPU per request divided by it."
    echo
    echo "| configuration | bound | CPU ms / enrollment |"
    echo "| --- | --- | ---: |"
    for n in $CONFIGS; do
        eval "desc=\$desc_$n how=\$bound_how_$n bound=\$bound_$n"
        echo "| $n: $desc | $how | $bound |"
    done
    echo
    if [ -n "${pid_a:-}" ] && [ -n "${pid_s:-}" ]; then
        echo "## scepd against scepserver, both RSA-2048 CAs"
        echo
        echo "Medians over the rounds. Ratios are scepd / scepserver: above 1 favours scepd for"
        echo "enroll/s, below 1 for CPU and latency. p99/p50 is each server's tail spread. Failures"
        echo "and duplicate serials (distinct serials received more than once within a run) are"
        echo "summed over the rounds; CPU is per answered request, failures included."
        echo
        echo "| c | scepd enroll/s | scepserver enroll/s | ratio | scepd CPU ms | scepserver CPU ms | CPU ratio | scepd x bound | scepserver x bound | scepd p50 / p99 ms | scepserver p50 / p99 ms | p99 ratio | scepd p99/p50 | scepserver p99/p50 | failures scepd / scepserver | duplicate serials scepd / scepserver |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for c in $CONCURRENCY; do
            { row_of a "$c"; row_of s "$c"; } | awk -v c="$c" -v ba="$bound_a" -v bs="$bound_s" '
                { for (i = 1; i <= NF; i++) f[NR, i] = $i }
                function r(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
                END {
                    printf "| %s | %.1f | %.1f | %s | %.2f | %.2f | %s | %.1f | %.1f | %.1f / %.1f | %.1f / %.1f | %s | %s | %s | %d / %d | %d / %d |\n",
                        c, f[1, 5], f[2, 5], r(f[1, 5], f[2, 5]), f[1, 10], f[2, 10], r(f[1, 10], f[2, 10]),
                        f[1, 10] / ba, f[2, 10] / bs, f[1, 6], f[1, 8], f[2, 6], f[2, 8], r(f[1, 8], f[2, 8]),
                        r(f[1, 8], f[1, 6]), r(f[2, 8], f[2, 6]), f[1, 12], f[2, 12], f[1, 16], f[2, 16]
                }'
        done
        echo
    fi
    echo "## Every configuration"
    echo
    peak_note="the largest VmHWM during a run"
    [ "$peak_reset" = yes ] || peak_note="VmHWM since start (the kernel refused clear_refs)"
    echo "Medians over the rounds ($ROUNDS; max: the largest of any round; peak RSS: $peak_note;"
    echo "failures and duplicate serials: summed over the rounds). CPU is per answered request."
    for n in $CONFIGS; do
        eval "desc=\$desc_$n bound=\$bound_$n"
        echo
        echo "### $n: $desc"
        echo
        echo "| c | requests | enroll/s | p50 ms | p90 ms | p99 ms | max ms | p99/p50 | CPU ms / req | x bound | peak RSS MB | failures (503 / 5xx / other) | duplicate serials (within a run) |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
        awk -v n="$n" -v b="$bound" '$1 == n {
            printf "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %.2f | %.1f | %.1f | %d (%d / %d / %d) | %d |\n",
                $2, $4, $5, $6, $7, $8, $9, ($6 > 0 ? sprintf("%.2f", $8 / $6) : "n/a"), $10, $10 / b,
                $11 / 1024, $12, $13, $14, $15, $16
        }' "$summary"
    done
    echo
    echo "## Start-up and memory"
    echo
    echo "Start-up: from exec to the \"serving SCEP at\" line with the CA already made (polled every"
    echo "10 ms), median of $RESTARTS restarts; scepserver's is one start until GetCACaps answers."
    echo "Idle RSS: VmRSS after that start, before any request."
    echo
    echo "| configuration | start-up ms (median) | each start, ms | idle RSS MB | peak RSS MB (any run) | certificates received | duplicate serials across all runs |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
    for n in $CONFIGS; do
        eval "desc=\$desc_$n st=\$start_$n sts=\"\$starts_$n\" idle=\$idle_$n ad=\$alldup_$n rc=\$received_$n"
        peak=$(awk -v n="$n" '$1 == n && $11 > m { m = $11 } END { print m + 0 }' "$summary")
        echo "| $n: $desc | $st | ${sts// /, } | $(mb "$idle") | $(mb "$peak") | $rc | $ad |"
    done
    if [ -n "${desc_d:-}" ]; then
        echo
        echo "d's store: $rows_d rows in \`certificates\` before the first run (MILLION=$MILLION, filled by"
        echo "\`inventory_bench sqlite:STATE/scepd.db $MILLION 1\` after scepd's first start made the"
        echo "database: same schema, same file scepd serves from), fill time ${fill_s}, database file"
        echo "$(du -m "$state_d/scepd.db" | cut -f1) MB."
    fi
    if [ -s "$tmp/errors" ]; then
        echo
        echo "## Failures seen"
        echo
        echo "The first error of each scep_load thread that failed (numbers blanked), counted:"
        echo
        echo '```'
        sed 's/[0-9][0-9]*/N/g' "$tmp/errors" | sort | uniq -c | sort -rn | head -n 20
        echo '```'
    fi
    echo
    echo "## Every run"
    echo
    echo "| config | c | round | requests | ok | failures | 503 | other 5xx | other | dup | enroll/s | p50 | p90 | p99 | max | CPU ms/req | VmHWM kB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk '{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$results"
} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" || failed=1

say "wrote $OUT and $PNG in $(((t_end - t_begin) / 1000)) s"
exit $failed
