#!/usr/bin/env bash
# Instructions per call of the `answer` example, counted by callgrind
# (deterministic, unlike time): the regression guard of the hot path.
#
# Usage: bench/callgrind.sh [--check] [--save] [--install] [--icache]
#
#   Builds the answer example (release), runs it under callgrind with
#   RUST_LOG=warn, makes one warm-up call, zeroes the counters, runs
#   CALLS (default 1000) SIPp `uac` calls at RATE (default 100) per second
#   over UDP, dumps the counters and prints the instructions per call.
#   --check  fails (exit 1) when the figure is more than 5% above the one
#            in bench/callgrind.baseline
#   --save   writes the figure to bench/callgrind.baseline
#   --install  apt-gets valgrind and SIPp when missing (as CI runs it)
#   --icache  also simulates the instruction cache (32 KiB, 8-way, 64-byte
#            lines, whatever the machine's) and prints its misses per
#            call and the code the calls ran (the distinct 64-byte lines
#            holding an instruction run at least as often as there were
#            calls): at low rates a server sleeps between SIPp's bursts
#            and each burst fetches its code again, so these set much of
#            its time besides the instructions. A report, not part of
#            --check; about twice as slow.
#   KEEP=file  keeps the callgrind dump there (for callgrind_annotate)
#   SERVER_BIN=path  counts that server instead (any that takes
#            `--listen ADDR`, e.g. the rsipstack UAS or the floor of
#            bench/load.sh; SERVER_ENV="VAR=value ..." sets its
#            environment, SERVER_ARGS="..." adds to its arguments, e.g.
#            the floor's --parse): the same call flow counted for another
#            implementation, user-space instructions without the noise of
#            time. Not with --check or --save.
#   SERVER_CPU=N  the one CPU the server is confined to (taskset -c; the
#            default is the first this script may use), as bench/load.sh
#            confines it: on one CPU the example runs tokio's
#            current-thread scheduler. SERVER_CPU=all leaves it unconfined
#            (the multi-thread scheduler).
#
# Under valgrind the server is ~50x slower: keep the rate low enough that
# SIPp does not retransmit (retransmissions add work and skew the count);
# the script fails when any call failed or was retransmitted. Run it on
# an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000}
RATE=${RATE:-100}
check=0
save=0
install=0
icache=0
for a in "$@"; do
    case "$a" in
    --check) check=1 ;;
    --save) save=1 ;;
    --install) install=1 ;;
    --icache) icache=1 ;;
    *) sed -n '5,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
# log, install_missing, free_udp_port, stat_col.
# shellcheck source=bench/lib.sh
source bench/lib.sh
LOG_TAG=callgrind
[ "$install" = 0 ] || install_missing valgrind:valgrind callgrind_control:valgrind sipp:sip-tester
for tool in valgrind callgrind_control sipp taskset; do
    command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is needed" >&2; exit 2; }
done
if [ -n "${SERVER_BIN:-}" ]; then
    [ "$check$save" = 00 ] || { echo "callgrind.sh: --check and --save count the answer example only" >&2; exit 2; }
    bin=$SERVER_BIN
    [ -x "$bin" ] || { echo "callgrind.sh: no executable $bin" >&2; exit 2; }
else
    cargo build --release -q -p examples --bin answer
    bin=${CARGO_TARGET_DIR:-target}/release/answer
fi
tmp=$(mktemp -d)
port=$(free_udp_port)
# The first CPU of this process's affinity list ("0-1", "2,5").
SERVER_CPU=${SERVER_CPU:-$(grep Cpus_allowed_list /proc/self/status | awk '{print $2}' | cut -d, -f1 | cut -d- -f1)}
pin=(taskset -c "$SERVER_CPU")
[ "$SERVER_CPU" = all ] && pin=()
# A fixed geometry, so that the figure does not depend on the machine.
sim=()
[ "$icache" = 0 ] || sim=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --dump-instr=yes)
# shellcheck disable=SC2086
env RUST_LOG=warn ${SERVER_ENV:-} "${pin[@]}" valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$tmp/cg.out" \
    "$bin" --listen "127.0.0.1:$port" ${SERVER_ARGS:-} >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; sleep 1; kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# Warm-up: one call, retried until the server answers (valgrind starts
# slowly); bounded to 60 attempts.
for i in $(seq 1 60); do
    if sipp -sn uac "127.0.0.1:$port" -m 1 -timeout 10s -timeout_error >/dev/null 2>&1; then
        break
    fi
    [ "$i" = 60 ] && { echo "callgrind.sh: the server never answered" >&2; exit 1; }
    sleep 1
done
callgrind_control -z "$pid" >/dev/null 2>&1
sipp -sn uac "127.0.0.1:$port" -m "$CALLS" -r "$RATE" -timeout 300s -timeout_error \
    -trace_stat -stf "$tmp/stat.csv" >/dev/null 2>&1 || { echo "callgrind.sh: SIPp failed" >&2; exit 1; }
callgrind_control -d "$pid" >/dev/null 2>&1
failed=$(stat_col "$tmp/stat.csv" 'FailedCall(C)')
retrans=$(stat_col "$tmp/stat.csv" 'Retransmissions(C)')
if [ "$failed" != 0 ] || [ "$retrans" != 0 ]; then
    echo "callgrind.sh: $failed failed calls, $retrans retransmissions: lower RATE" >&2
    exit 1
fi
dump=$(ls "$tmp"/cg.out.* 2>/dev/null | head -1)
[ -n "${KEEP:-}" ] && cp "$dump" "$KEEP"
total=$(grep -m1 '^summary:\|^totals:' "$dump" | awk '{print $2}')
per_call=$((total / CALLS))
echo "instructions: $total over $CALLS calls: $per_call per call"
if [ "$icache" = 1 ]; then
    # summary: Ir Dr Dw I1mr ...; the code lines from the per-instruction
    # costs (addresses absolute, or relative to the one before).
    i1=$(grep -m1 '^summary:' "$dump" | awk '{print $5}')
    # Hex by hand: awks differ on whether "0x1f" + 0 is 31.
    lines=$(awk -v calls="$CALLS" '
        function num(s,   n, i) {
            if (s !~ /^0x/) return s + 0
            n = 0
            for (i = 3; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
            return n
        }
        /^ob=/ { match($0, /\([0-9]+\)/); ob = substr($0, RSTART, RLENGTH); next }
        /^calls=/ { skip = 1; next }
        /^(0x|\+|-|\*)/ {
            a = $1
            if (a ~ /^0x/) addr = num(a)
            else if (a ~ /^\+/) addr = last + num(substr(a, 2))
            else if (a ~ /^-/) addr = last - num(substr(a, 2))
            else addr = last
            last = addr
            if (skip) { skip = 0; next }
            ir[ob, addr] += $3
        }
        END {
            for (k in ir) if (ir[k] >= calls) {
                split(k, p, SUBSEP)
                hot[p[1], int(p[2] / 64)] = 1
            }
            n = 0; for (l in hot) n++
            print n
        }' "$dump")
    echo "instruction-cache misses (simulated 32 KiB, 8-way): $((i1 / CALLS)) per call; code run once a call or more: $lines lines of 64 bytes, $((lines * 64 / 1024)) KiB"
fi
if [ "$save" = 1 ]; then
    echo "$per_call" >bench/callgrind.baseline
    echo "saved to bench/callgrind.baseline"
fi
if [ "$check" = 1 ]; then
    base=$(cat bench/callgrind.baseline)
    limit=$((base + base / 20))
    if [ "$per_call" -gt "$limit" ]; then
        echo "REGRESSION: $per_call per call, baseline $base (+5% = $limit)" >&2
        exit 1
    fi
    echo "within 5% of the baseline ($base per call)"
    if [ "$per_call" -lt $((base - base / 20)) ]; then
        # Not a failure, but the guard only catches what climbs back above
        # the recorded figure: a lasting gain should be recorded.
        echo "more than 5% below the baseline: record the new figure with --save" >&2
    fi
fi
