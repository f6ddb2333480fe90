#!/usr/bin/env bash
# Overload benchmark: three times a server's one-core capacity, open loop,
# against parrot and Kamailio in one go, on loopback.
#
#   1. parrot     - the `answer` example (release build)            127.0.0.1:5070
#   2. kamailio   - bench/kamailio/uas.cfg with -A WITH_RATELIMIT:   127.0.0.1:5090
#                   the ratelimit module refuses INVITEs beyond
#                   KAM_CAPACITY/s with 503, as its documentation shows
#
# The load comes from bench's `overload` generator (release build;
# SIPp cannot offer that much from one core): new calls (INVITE with SDP) at
# a fixed rate whatever the answers, 2xx calls ACKed and ended with a BYE
# after HOLD_MS, OPTIONS probes at OPTIONS_RATE/s throughout; no INVITE
# retransmissions. Server pinned to CPU 1 (`taskset -c 1`), generator to
# CPU 0, both at nice -10 when allowed. Per server, one fresh server and one
# generator run with these phases:
#   load     CAPACITY*FACTOR calls/s for LOAD_SECONDS
#   after    NORMAL_RATE calls/s for 5 s, right after the load
#   settled  NORMAL_RATE calls/s for 5 s (calls started 5-10 s after it)
#   idle     probes only, until RECOVERY_SECONDS after the load
#   check    NORMAL_RATE calls/s for NORMAL_SECONDS
# RSS (VmRSS, and PSS; summed over Kamailio's processes) is sampled every
# second from /proc: baseline (before the load, after 50 warm-up calls and
# BASELINE_PROBE_SECONDS of the OPTIONS probes alone: the same background
# work as at the end), peak, and at RECOVERY_SECONDS after the load. The criteria, per server:
#   - goodput during the load (2xx/s) >= 80% of the one-core capacity;
#   - OPTIONS and BYE answered within 100 ms at p99 in every phase (a lost
#     request counts as slower than any answered one);
#   - peak RSS <= 256 MB, and RSS RECOVERY_SECONDS after the load within 20%
#     of the baseline (Kamailio: PSS, its shared memory counted once);
#   - normal calls succeed 100% from 5 s after the load (settled, check).
#
# usage: bench/overload.sh [--quick] [--no-install] [--out DIR]
#                          [--servers "parrot kamailio"]
#   --quick   10 s of 3 x 3000 calls/s, 40 s of recovery (a smoke test)
#   --out DIR where logs and results go (default: target/overload-bench/<UTC time>)
# Knobs (environment): CAPACITY (one-core calls/s, default 12000), FACTOR
# (3), LOAD_SECONDS (60), RECOVERY_SECONDS (60, at least 11), NORMAL_RATE
# (200), NORMAL_SECONDS (5), HOLD_MS (0), OPTIONS_RATE (20),
# BASELINE_PROBE_SECONDS (35), SOCKETS (16),
# KAM_CAPACITY (Kamailio's ratelimit, default CAPACITY), KAM_CHILDREN (2),
# KAM_SHM_MB (2048), KAM_PKG_MB (16), BENCH_NICE (-10; 0: off);
# PARROT_BIN=path runs that build of the parrot server (same CLI as `answer`);
# SERVER_LOG sets the parrot server's RUST_LOG (default warn).
#
# Everything is bounded: the generator stops on its own after its schedule
# and a grace period, and is killed by pid 15 s after that; every process
# this script starts is killed by pid on exit. Traffic goes to 127.0.0.1
# only. Nothing asserts: the table says met or MISSED.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

QUICK=0
INSTALL=1
OUT=""
SERVERS=${SERVERS:-"parrot kamailio"}
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
parse_args "parrot kamailio" "$@"
if [ "$QUICK" = 1 ]; then
    CAPACITY=${CAPACITY:-3000}
    LOAD_SECONDS=${LOAD_SECONDS:-10}
    # Past the 32 s transaction lifetimes, so that recovery shows.
    RECOVERY_SECONDS=${RECOVERY_SECONDS:-40}
fi
CAPACITY=${CAPACITY:-12000}
FACTOR=${FACTOR:-3}
LOAD_SECONDS=${LOAD_SECONDS:-60}
RECOVERY_SECONDS=${RECOVERY_SECONDS:-60}
NORMAL_RATE=${NORMAL_RATE:-200}
NORMAL_SECONDS=${NORMAL_SECONDS:-5}
HOLD_MS=${HOLD_MS:-0}
OPTIONS_RATE=${OPTIONS_RATE:-20}
BASELINE_PROBE_SECONDS=${BASELINE_PROBE_SECONDS:-35}
SOCKETS=${SOCKETS:-16}
KAM_CAPACITY=${KAM_CAPACITY:-$CAPACITY}
KAM_CHILDREN=${KAM_CHILDREN:-2}
KAM_SHM_MB=${KAM_SHM_MB:-2048}
KAM_PKG_MB=${KAM_PKG_MB:-16}
[ "$RECOVERY_SECONDS" -ge 11 ] || { echo "RECOVERY_SECONDS must be at least 11" >&2; exit 2; }
OFFERED=$((CAPACITY * FACTOR))
SERVER_CPU=1
GEN_CPU=0
HOST=127.0.0.1
declare -A PORT=([parrot]=5070 [kamailio]=5090)
declare -A CAP=([parrot]=$CAPACITY [kamailio]=$KAM_CAPACITY)
# Peak RSS limit and recovery margin of the criteria.
RSS_LIMIT_KB=$((256 * 1024))
RSS_MARGIN_PCT=20

# Output directory, log and report; processes (every pid started is
# recorded in PIDS and killed on exit), installs, the server's start, stop,
# CPU time and memory: shared by bench/load.sh and bench/overload.sh.
open_output overload overload-bench OVERLOAD.md

# ---------------------------------------------------------------------------
# Install and build.
tools=(taskset pgrep cargo timeout)
packages=(taskset:util-linux pgrep:procps)
case " $SERVERS " in *" kamailio "*) tools+=(kamailio) packages+=(kamailio:kamailio) ;; esac
[ "$INSTALL" = 0 ] || install_missing "${packages[@]}"
require_tools "${tools[@]}"
set_nice
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: server and generator share CPU 0"
    SERVER_CPU=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TARGET_DIR=${CARGO_TARGET_DIR:-"$ROOT/target"}
if [ -n "${PARROT_BIN:-}" ]; then
    log "parrot: using PARROT_BIN=$PARROT_BIN"
    log "building the overload generator (release)"
    (cd "$ROOT" && cargo build --release -p bench --bin overload) >"$OUT/build.log" 2>&1 ||
        { tail -30 "$OUT/build.log" >&2; exit 1; }
else
    log "building parrot's answer example and the overload generator (release)"
    (cd "$ROOT" && cargo build --release -p examples --bin answer -p bench --bin overload) \
        >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
fi
ANSWER_BIN=${PARROT_BIN:-"$TARGET_DIR/release/answer"}
GEN_BIN="$TARGET_DIR/release/overload"
for b in "$ANSWER_BIN" "$GEN_BIN"; do
    [ -x "$b" ] || { echo "no executable $b" >&2; exit 1; }
done
KAM_CFG="$HERE/kamailio/uas.cfg"

# ---------------------------------------------------------------------------
# Servers.
# A key of the generator's key-value summary, or "$3" (default 0).
kv() { awk -v k="$2" -v d="${3:-0}" '$1 == k { v = $2 } END { print (v == "") ? d : v }' "$1" 2>/dev/null || echo "${3:-0}"; }
# A few calls, bounded to 4 s: the server is up and answers 2xx.
probe_call() {
    local f="$OUT/$1/probe.kv"
    timeout -k 1 8 "$GEN_BIN" --target "$HOST:${PORT[$1]}" --phase probe:4:1 --options-rate 0 \
        --sockets 1 --invite-timeout-ms 1000 --request-timeout-ms 1000 --quiet --kv "$f" \
        >/dev/null 2>&1 || return 1
    [ "$(kv "$f" phase.probe.ok)" -gt 0 ]
}
start_server() {
    local extra=()
    [ "$1" != kamailio ] || extra=(-A WITH_RATELIMIT -A "RL_PIPE=\"0:TAILDROP:$KAM_CAPACITY\"")
    start_server_as "$1" "$OUT/$1/server.log" "${extra[@]+"${extra[@]}"}"
}

# ---------------------------------------------------------------------------
# One server: baseline, the generator's run with the RSS sampler beside it.
declare -A R_GOODPUT R_OFFERED R_OPT99 R_BYE99 R_BASE R_PEAK R_AFTER R_NORMAL R_GEN_CPU R_LOAD R_SRV_CPU
# Sampled every second into FILE until killed: seconds since the start,
# RSS kB, PSS kB, server CPU ticks.
sample_memory() {
    local file=$1 t0=$EPOCHREALTIME
    while :; do
        printf '%s %s %s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
            "$(server_rss_kb)" "$(server_pss_kb) $(server_ticks)" >>"$file"
        sleep 1
    done
}
# The figure the criteria use: PSS for Kamailio (its shared memory would be
# counted once per process in a sum of RSS), RSS for parrot (one process).
mem_col() { [ "$1" = kamailio ] && echo 3 || echo 2; }
# The worst p99 (ms) of REQUEST over the phases in a kv file; -1: lost.
worst_p99() {
    awk -v r="$2" '$1 ~ "^phase\\..*\\." r "\\.p99$" {
            if ($2 < 0) lost = 1; else if ($2 > w) w = $2; seen = 1 }
        END { if (!seen) print "-"; else if (lost) print "lost"; else printf "%.1f ms\n", w }' "$1"
}
run_server() {
    local name=$1 dir="$OUT/$1" settle_idle pid bound ticks gen_ticks=0 t0 col
    start_server "$name"
    # A few calls first, so that the baseline is a server that has served
    # calls (its code paged in), as any server at rest in production is;
    # then the probes alone, past the 32 s a transaction lives, so that
    # the baseline carries the same background work as the figure taken
    # after the load.
    timeout -k 1 $((BASELINE_PROBE_SECONDS + 15)) "$GEN_BIN" --target "$HOST:${PORT[$name]}" \
        --phase warmup:50:1 --phase probes:0:"$BASELINE_PROBE_SECONDS" \
        --options-rate "$OPTIONS_RATE" --sockets 1 --quiet --kv "$dir/warmup.kv" \
        >/dev/null 2>&1 || true
    col=$(mem_col "$name")
    if [ "$col" = 3 ]; then R_BASE[$name]=$(server_pss_kb); else R_BASE[$name]=$(server_rss_kb); fi
    settle_idle=$((RECOVERY_SECONDS - 10))
    : >"$dir/memory.txt"
    sample_memory "$dir/memory.txt" &
    local sampler=$!
    PIDS+=("$sampler")
    log "$name: $OFFERED calls/s for ${LOAD_SECONDS}s, then ${RECOVERY_SECONDS}s of recovery"
    t0=$SECONDS
    (exec "${NICE[@]}" taskset -c "$GEN_CPU" "$GEN_BIN" --target "$HOST:${PORT[$name]}" \
        --phase "load:$OFFERED:$LOAD_SECONDS" --phase "after:$NORMAL_RATE:5" \
        --phase "settled:$NORMAL_RATE:5" --phase "idle:0:$settle_idle" \
        --phase "check:$NORMAL_RATE:$NORMAL_SECONDS" --sockets "$SOCKETS" --hold-ms "$HOLD_MS" \
        --options-rate "$OPTIONS_RATE" --json "$dir/overload.json" --kv "$dir/overload.kv" \
        >"$dir/timeline.txt" 2>"$dir/generator.err") &
    pid=$!
    PIDS+=("$pid")
    # Schedule + the generator's own grace (at most 5 + 0.6 + 2 + 1 s with
    # the defaults, plus HOLD_MS) + 15 s.
    bound=$((LOAD_SECONDS + RECOVERY_SECONDS + NORMAL_SECONDS + HOLD_MS / 1000 + 25))
    while kill -0 "$pid" 2>/dev/null; do
        ticks=$(pid_ticks "$pid")
        [ "$ticks" -le 0 ] || gen_ticks=$ticks
        if [ $((SECONDS - t0)) -ge "$bound" ]; then
            log "$name: generator still running after ${bound}s, killed"
            kill_pid_tree "$pid"
            break
        fi
        sleep 0.5
    done
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    kill_pid_tree "$sampler"
    forget_pid "$sampler"
    stop_server
    [ -s "$dir/overload.kv" ] || { tail -5 "$dir/generator.err" >&2; echo "$name: no generator summary" >&2; exit 1; }
    local kvf="$dir/overload.kv" ok sent skipped
    R_GOODPUT[$name]=$(( $(kv "$kvf" phase.load.ok) / LOAD_SECONDS ))
    sent=$(kv "$kvf" phase.load.sent)
    skipped=$(kv "$kvf" phase.load.skipped)
    R_OFFERED[$name]=$((sent / LOAD_SECONDS))
    R_LOAD[$name]="200 $(kv "$kvf" phase.load.ok), 503 $(kv "$kvf" phase.load.rejected), other $(kv "$kvf" phase.load.other), timeouts $(kv "$kvf" phase.load.timeouts), not sent $skipped"
    R_OPT99[$name]=$(worst_p99 "$kvf" options)
    R_BYE99[$name]=$(worst_p99 "$kvf" bye)
    R_GEN_CPU[$name]=$(awk -v t="$gen_ticks" -v hz="$CLK_TCK" -v e="$((SECONDS - t0))" \
        'BEGIN { printf "%.0f", (e > 0) ? 100 * t / hz / e : 0 }')
    # Peak over the run; the figure at RECOVERY_SECONDS after the load
    # (the last sample before the check phase).
    # The server's CPU over the load phase, in % of one core.
    R_SRV_CPU[$name]=$(awk -v t="$LOAD_SECONDS" -v hz="$CLK_TCK" '
        NR == 1 { t0 = $1; c0 = $4 } $1 <= t { t1 = $1; c1 = $4 }
        END { printf "%.0f", (t1 > t0) ? 100 * (c1 - c0) / hz / (t1 - t0) : 0 }' "$dir/memory.txt")
    R_PEAK[$name]=$(awk -v c="$col" 'BEGIN { m = 0 } $c > m { m = $c } END { print m }' "$dir/memory.txt")
    R_AFTER[$name]=$(awk -v c="$col" -v t="$((LOAD_SECONDS + RECOVERY_SECONDS))" \
        '$1 <= t { v = $c } END { print v + 0 }' "$dir/memory.txt")
    ok=0
    sent=0
    local p
    for p in settled check; do
        ok=$((ok + $(kv "$kvf" "phase.$p.ok")))
        sent=$((sent + $(kv "$kvf" "phase.$p.sent") + $(kv "$kvf" "phase.$p.skipped")))
    done
    R_NORMAL[$name]="$ok/$sent"
    log "$name: goodput ${R_GOODPUT[$name]}/s of ${R_OFFERED[$name]}/s sent (${R_LOAD[$name]}); p99 OPTIONS ${R_OPT99[$name]}, BYE ${R_BYE99[$name]}; memory ${R_BASE[$name]} -> peak ${R_PEAK[$name]} -> ${R_AFTER[$name]} kB; normal calls ${R_NORMAL[$name]}; CPU during the load: server ${R_SRV_CPU[$name]}%, generator ${R_GEN_CPU[$name]}% (whole run)"
}

for s in $SERVERS; do run_server "$s"; done

# ---------------------------------------------------------------------------
# Report.
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"MISSED\" }"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
row() { local line="| $1 |" s; shift; for s in "$@"; do line+=" $s |"; done; out "$line"; }
header="| criterion |"
rule="| --- |"
for s in $SERVERS; do header+=" $s |"; rule+=" --- |"; done

out "# Overload: $FACTOR× one-core capacity, open loop"
out ""
out "$(date -u +%Y-%m-%d), parrot $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(kamailio -v 2>/dev/null | head -1 | sed 's/^version: //; s/ *$//' || true)."
out "Offered $OFFERED calls/s ($FACTOR × $CAPACITY; Kamailio's ratelimit at $KAM_CAPACITY/s) for ${LOAD_SECONDS} s,"
out "then ${RECOVERY_SECONDS} s of recovery and $NORMAL_SECONDS s at $NORMAL_RATE calls/s; hold ${HOLD_MS} ms, OPTIONS $OPTIONS_RATE/s, $SOCKETS source ports."
[ "$QUICK" = 0 ] || out "**--quick: a smoke test of the harness; the numbers are rough.**"
out ""
out "$header"
out "$rule"
cells=()
for s in $SERVERS; do
    g=${R_GOODPUT[$s]}
    cells+=("$g/s of ${R_OFFERED[$s]}/s sent ($(awk -v g="$g" -v c="${CAP[$s]}" 'BEGIN { printf "%.0f", 100 * g / c }')% of ${CAP[$s]}): $(verdict "$g >= 0.8 * ${CAP[$s]}")")
done
row "goodput during the load ≥ 80% of capacity" "${cells[@]}"
cells=()
for s in $SERVERS; do
    o=${R_OPT99[$s]}
    b=${R_BYE99[$s]}
    v=MISSED
    case "$o$b" in *lost* | *-*) ;; *) v=$(verdict "${o% ms} <= 100 && ${b% ms} <= 100") ;; esac
    cells+=("OPTIONS $o, BYE $b: $v")
done
row "OPTIONS and BYE p99 ≤ 100 ms (worst phase)" "${cells[@]}"
cells=()
for s in $SERVERS; do
    cells+=("$(mb "${R_PEAK[$s]}") (idle $(mb "${R_BASE[$s]}")): $(verdict "${R_PEAK[$s]} <= $RSS_LIMIT_KB")")
done
row "peak RSS ≤ 256 MB (Kamailio: PSS)" "${cells[@]}"
cells=()
for s in $SERVERS; do
    cells+=("$(mb "${R_AFTER[$s]}") vs $(mb "${R_BASE[$s]}"): $(verdict "${R_AFTER[$s]} <= ${R_BASE[$s]} * (100 + $RSS_MARGIN_PCT) / 100")")
done
row "RSS ${RECOVERY_SECONDS} s after the load within ${RSS_MARGIN_PCT}% of idle" "${cells[@]}"
cells=()
for s in $SERVERS; do
    cells+=("${R_NORMAL[$s]} ok: $(verdict "${R_NORMAL[$s]%/*} == ${R_NORMAL[$s]#*/} && ${R_NORMAL[$s]#*/} > 0")")
done
row "normal calls 100% ok from 5 s after the load" "${cells[@]}"
out ""
for s in $SERVERS; do
    out "- $s: during the load ${R_LOAD[$s]}; server CPU ${R_SRV_CPU[$s]}% of a core; generator CPU ${R_GEN_CPU[$s]}% (whole run). Timeline: \`$s/timeline.txt\`, memory: \`$s/memory.txt\`."
done
log "report: $REPORT"
log "done in ${SECONDS}s"
