#!/usr/bin/env bash
# Media benchmark: concurrent G.711 echo streams on one core, Parrot's
# `echo` example against rtpengine relaying the same streams, in one go, on
# loopback.
#
#   1. parrot     - the `echo` example (release build), SIP on 127.0.0.1:5072,
#                   RTP ports 16384-32767: each stream is a call
#                   (INVITE/200/ACK, BYE at the end), its audio echoed
#                   through the call's jitter buffer (60 ms)
#   2. rtpengine  - rtpengine 10.5 (Debian rtpengine-daemon), userspace
#                   forwarding (--table=-1), one worker thread, ng control on
#                   127.0.0.1:2223: each stream is a call set up with ng
#                   offer + answer whose two sides are the stream's own
#                   address, so what the stream sends comes back to it
#                   (relayed, not delayed)
#
# The load is bench's `rtpload` (release build): N streams, one 172-octet
# RTP packet (PCMU, 20 ms) every 20 ms each, phases spread over the 20 ms,
# from one socket; the payload carries the stream and a counter, which the
# echo and the relay both return unchanged. Per step: a fresh server pinned
# to CPU 1 (`taskset -c 1`), rtpload pinned to CPU 0, both at real-time
# priority (`chrt -f 10`; BENCH_RT=0: nice -10 instead), the two servers
# taking turns. After set-up and WARMUP seconds of streaming, a window of
# STEP_SECONDS is measured:
#   - late/lost: a packet sent in the window and not back 1 s after it is
#     lost; one back more than 20 ms after the fastest return of its stream
#     is late (a 20 ms-frame jitter buffer would have played something else
#     by then). A step passes with late + lost < 1%;
#   - return delay p50/p99 (the echo's includes its 60 ms jitter buffer);
#   - the server's CPU (utime+stime of all its threads, /proc) over the
#     window / packets sent in the window (each one packet in and one out);
#   - the server's RSS at the end of the window minus its RSS idle (after
#     start, before any call) / streams: memory per active media call;
#   - rtpload's own CPU and send lag (p99 behind its 20 ms schedule): a
#     step where the generator lags more than 10 ms measures the generator,
#     and says so.
# Then the highest passing step per server and the targets of the issue
# (>= 1000 concurrent echo streams on one core with < 1% late; CPU per
# packet <= rtpengine's), met or MISSED.
#
# usage: bench/media.sh [--quick] [--no-install] [--out DIR]
#                       [--servers "parrot rtpengine"]
#   --quick   250 and 1000 streams, 3 s windows (a smoke test)
#   --out DIR where logs and results go (default: target/media-bench/<UTC time>)
# Knobs (environment): STREAMS (steps, default "250 500 1000 1500 2000"),
# STEP_SECONDS (10), WARMUP (2), SETUP_RATE (calls/s, 500), BENCH_RT (1),
# BENCH_NICE (-10, when BENCH_RT=0), QUIET_MAX, QUIET_WAIT, SERVER_LOG
# (parrot's RUST_LOG, default warn), RTPENGINE (binary).
#
# Everything is bounded: each rtpload run stops on its own after its
# window and a one-second drain, and is killed by pid 60 s after its
# expected end; every process this script starts is killed by pid on exit.
# Traffic goes to 127.0.0.1 only. Nothing asserts timings: the script fails
# only when something cannot run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

QUICK=0
INSTALL=1
OUT=""
SERVERS=${SERVERS:-"parrot rtpengine"}
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
parse_args "parrot rtpengine" "$@"
if [ "$QUICK" = 1 ]; then
    STREAMS=${STREAMS:-"250 1000"}
    STEP_SECONDS=${STEP_SECONDS:-3}
    WARMUP=${WARMUP:-1}
fi
STREAMS=${STREAMS:-"250 500 1000 1500 2000"}
STEP_SECONDS=${STEP_SECONDS:-10}
WARMUP=${WARMUP:-2}
SETUP_RATE=${SETUP_RATE:-500}
QUIET_MAX=${QUIET_MAX:-20}
QUIET_WAIT=${QUIET_WAIT:-10}
RTPENGINE=${RTPENGINE:-rtpengine}
SERVER_CPU=1
GEN_CPU=0
HOST=127.0.0.1
SIP_PORT=5072
NG_PORT=2223
BAD_LIMIT=1          # % late + lost for a step to pass
GEN_LAG_LIMIT_MS=10  # rtpload's own p99 send lag beyond which a step is suspect
TARGET_STREAMS=1000

open_output media media-bench MEDIA.md

# ---------------------------------------------------------------------------
# Install and build.
if [ "$INSTALL" = 1 ]; then
    install_missing "$RTPENGINE:rtpengine-daemon" taskset:util-linux chrt:util-linux pgrep:procps
fi
require_tools "$RTPENGINE" taskset chrt pgrep cargo
# Real-time priority when allowed (other work on the host then hardly
# delays a packet); nice -10 otherwise.
PRIO=()
if [ "${BENCH_RT:-1}" != 0 ] && chrt -f 10 true 2>/dev/null; then
    PRIO=(chrt -f 10)
else
    set_nice
    PRIO=("${NICE[@]+"${NICE[@]}"}")
fi
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: server and generator share CPU 0"
    SERVER_CPU=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PARROT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- parrot parrot-macros examples bench/src 2>/dev/null || PARROT_REV+="+changes"
log "building parrot's echo example and rtpload (release)"
(cd "$ROOT" && cargo build --release -p examples --bin echo -p bench --bin rtpload) \
    >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR=${TARGET_DIR:-"$ROOT/target"}
ECHO_BIN="$TARGET_DIR/release/echo"
RTPLOAD_BIN="$TARGET_DIR/release/rtpload"
[ -x "$ECHO_BIN" ] && [ -x "$RTPLOAD_BIN" ] || { echo "no $ECHO_BIN or $RTPLOAD_BIN" >&2; exit 1; }
RTPENGINE_VERSION=$("$RTPENGINE" --version 2>&1 | sed -n 's/^Version: //p' | head -1)

# ---------------------------------------------------------------------------
# Servers: SERVER_PID, SERVER_NAME (bench/lib.sh's stop_server, server_ticks,
# server_rss_kb).
udp_listening() { [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]; }
start_media_server() {
    local name=$1 log_file=$2 port i
    mkdir -p "$(dirname "$log_file")"
    case "$name" in
        parrot)
            port=$SIP_PORT
            require_free_port "$port"
            RUST_LOG=${SERVER_LOG:-warn} "${PRIO[@]}" taskset -c "$SERVER_CPU" "$ECHO_BIN" \
                --listen "$HOST:$port" >"$log_file" 2>&1 &
            ;;
        rtpengine)
            port=$NG_PORT
            require_free_port "$port"
            "${PRIO[@]}" taskset -c "$SERVER_CPU" "$RTPENGINE" --config-file=none \
                --foreground --log-stderr --log-level=4 --table=-1 --interface="$HOST" \
                --listen-ng="$HOST:$port" --port-min=33000 --port-max=52999 \
                --num-threads=1 --media-num-threads=1 >"$log_file" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    SERVER_NAME=$name
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 50); do
        alive "$SERVER_PID" || { tail -20 "$log_file" >&2; echo "$name exited during start-up" >&2; exit 1; }
        if udp_listening "$port"; then
            sleep 1
            return 0
        fi
        sleep 0.2
    done
    tail -20 "$log_file" >&2
    echo "$name does not listen on $HOST:$port" >&2
    exit 1
}

# ---------------------------------------------------------------------------
# One step: a fresh server, one bounded rtpload run, the server stopped.
declare -A R            # R[server,streams,key] = value from rtpload's result line
declare -A IDLE_RSS OTHER_PCT

# field LINE KEY: the value of key=value in LINE.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

measure() {
    local name=$1 n=$2 dir mode target line pid bound gen_ticks m0 m1 t0 t1 start elapsed
    dir="$OUT/$name/$n"
    mkdir -p "$dir"
    start_media_server "$name" "$dir/server.log"
    wait_quiet server_ticks
    IDLE_RSS[$name,$n]=$(server_rss_kb)
    case "$name" in
        parrot) mode=sip; target="$HOST:$SIP_PORT" ;;
        rtpengine) mode=ng; target="$HOST:$NG_PORT" ;;
    esac
    bound=$((n / SETUP_RATE + WARMUP + STEP_SECONDS + 10))
    t0=$(server_ticks)
    m0=$(machine_busy_ticks)
    start=$(date +%s.%N)
    "${PRIO[@]}" taskset -c "$GEN_CPU" "$RTPLOAD_BIN" "$mode" --target "$target" --streams "$n" \
        --seconds "$STEP_SECONDS" --warmup "$WARMUP" --setup-rate "$SETUP_RATE" \
        --server-pid "$SERVER_PID" >"$dir/rtpload.out" 2>"$dir/rtpload.err" &
    pid=$!
    PIDS+=("$pid")
    watch_bounded "$pid" $((bound + 60)) "$name $n: rtpload"
    gen_ticks=$WATCHED_TICKS
    t1=$(server_ticks)
    m1=$(machine_busy_ticks)
    elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    stop_server
    OTHER_PCT[$name,$n]=$(awk -v m="$((m1 - m0))" -v t="$((t1 - t0))" -v p="$gen_ticks" -v hz="$CLK_TCK" -v e="$elapsed" \
        'BEGIN { o = (m - t - p) / hz / e * 100; printf "%.0f", (o > 0 && e > 0) ? o : 0 }')
    line=$(grep '^result ' "$dir/rtpload.out" || true)
    if [ -z "$line" ]; then
        log "$name $n streams: no result; rtpload said: $(tail -3 "$dir/rtpload.err" | tr '\n' ' ')"
        R[$name,$n,ok]=0
        return 0
    fi
    R[$name,$n,ok]=1
    local k
    for k in established sent lost_pct late_pct bad_pct delay_p50_ms delay_p99_ms server_cpu_pct \
        cpu_us_per_packet server_rss_kb gen_cpu_ms gen_lag_p99_ms torn_down; do
        R[$name,$n,$k]=$(field "$line" "$k")
    done
    R[$name,$n,rss_per_call]=$(awk -v r="${R[$name,$n,server_rss_kb]}" -v i="${IDLE_RSS[$name,$n]}" -v n="${R[$name,$n,established]}" \
        'BEGIN { if (r == "-" || n + 0 == 0) print "-"; else printf "%.1f", (r - i) / n }')
    log "$(printf '%-9s %5s streams: set up %s, late+lost %s%% (late %s%%, lost %s%%), delay p50 %s p99 %s ms, server CPU %s%%, %s µs/packet, %s KB/call, generator lag p99 %s ms, other load %s%%' \
        "$name" "$n" "${R[$name,$n,established]}" "${R[$name,$n,bad_pct]}" "${R[$name,$n,late_pct]}" \
        "${R[$name,$n,lost_pct]}" "${R[$name,$n,delay_p50_ms]}" "${R[$name,$n,delay_p99_ms]}" \
        "${R[$name,$n,server_cpu_pct]}" "${R[$name,$n,cpu_us_per_packet]}" "${R[$name,$n,rss_per_call]}" \
        "${R[$name,$n,gen_lag_p99_ms]}" "${OTHER_PCT[$name,$n]}")"
}

passes() { # SERVER N: late+lost < BAD_LIMIT % with every stream set up
    [ "${R[$1,$2,ok]:-0}" = 1 ] && [ "${R[$1,$2,established]}" = "$2" ] &&
        awk -v b="${R[$1,$2,bad_pct]}" -v l="$BAD_LIMIT" 'BEGIN { exit !(b < l) }'
}

log "steps: $STREAMS streams; ${WARMUP} s warm-up, ${STEP_SECONDS} s measured; servers: $SERVERS; priority: ${PRIO[*]:-none}"
declare -A FAILED_AT
for n in $STREAMS; do
    for name in $SERVERS; do
        [ -z "${FAILED_AT[$name]:-}" ] || continue
        measure "$name" "$n"
        passes "$name" "$n" || FAILED_AT[$name]=$n
    done
done

# ---------------------------------------------------------------------------
# Report.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
out "# Media benchmark results"
out ""
out "$(date -u +%Y-%m-%d), parrot $PARROT_REV, rtpengine ${RTPENGINE_VERSION:-?} (userspace), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)). Server on CPU $SERVER_CPU, rtpload on CPU $GEN_CPU, priority: ${PRIO[*]:-none}; ${WARMUP} s warm-up then ${STEP_SECONDS} s measured per step. Command: \`bench/media.sh$([ "$QUICK" = 1 ] && echo ' --quick')\` (STREAMS=\"$STREAMS\")."
out ""
out "| server | streams | set up | late+lost | late | lost | delay p50 / p99 (ms) | server CPU | CPU per packet (µs) | vs rtpengine | RSS per call (KB) | generator lag p99 (ms) | other load |"
out "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in $STREAMS; do
    for name in $SERVERS; do
        [ "${R[$name,$n,ok]:-}" = 1 ] || continue
        out "| $name | $n | ${R[$name,$n,established]} | ${R[$name,$n,bad_pct]}% | ${R[$name,$n,late_pct]}% | ${R[$name,$n,lost_pct]}% | ${R[$name,$n,delay_p50_ms]} / ${R[$name,$n,delay_p99_ms]} | ${R[$name,$n,server_cpu_pct]}% | ${R[$name,$n,cpu_us_per_packet]} | $(ratio "${R[$name,$n,cpu_us_per_packet]}" "${R[rtpengine,$n,cpu_us_per_packet]:-}") | ${R[$name,$n,rss_per_call]} | ${R[$name,$n,gen_lag_p99_ms]} | ${OTHER_PCT[$name,$n]}% |"
    done
done
out ""
declare -A BEST
for name in $SERVERS; do
    BEST[$name]=0
    for n in $STREAMS; do
        if [ "${R[$name,$n,ok]:-}" = 1 ] && passes "$name" "$n"; then BEST[$name]=$n; fi
    done
    out "- $name: highest step with late + lost < ${BAD_LIMIT}%: ${BEST[$name]} streams$([ -n "${FAILED_AT[$name]:-}" ] && echo "; failed at ${FAILED_AT[$name]}" || echo " (every step passed)")"
done
for n in $STREAMS; do
    for name in $SERVERS; do
        if [ "${R[$name,$n,ok]:-}" = 1 ] && awk -v l="${R[$name,$n,gen_lag_p99_ms]}" -v m="$GEN_LAG_LIMIT_MS" 'BEGIN { exit !(l > m) }'; then
            out "- $name at $n streams: the generator lagged ${R[$name,$n,gen_lag_p99_ms]} ms (p99) behind its schedule: that step measures rtpload as much as the server"
        fi
    done
done
out ""
out "## Targets"
out ""
met() { if "$@"; then echo met; else echo MISSED; fi; }
if [[ " $SERVERS " == *" parrot "* ]]; then
    out "- at least $TARGET_STREAMS concurrent echo streams on one core with < ${BAD_LIMIT}% late: $(met test "${BEST[parrot]}" -ge "$TARGET_STREAMS") (${BEST[parrot]})"
fi
if [[ " $SERVERS " == *" parrot "* && " $SERVERS " == *" rtpengine "* ]]; then
    # At the largest step both passed.
    common=0
    for n in $STREAMS; do
        if passes parrot "$n" 2>/dev/null && passes rtpengine "$n" 2>/dev/null; then common=$n; fi
    done
    if [ "$common" -gt 0 ]; then
        a=${R[parrot,$common,cpu_us_per_packet]}
        b=${R[rtpengine,$common,cpu_us_per_packet]}
        out "- CPU per packet <= rtpengine's (at $common streams, the largest step both passed): $(met awk -v a="$a" -v b="$b" 'BEGIN { exit !(a <= b) }') ($a µs against $b µs, ratio $(ratio "$a" "$b"))"
    else
        out "- CPU per packet <= rtpengine's: no step that both passed"
    fi
fi
log "report: $REPORT"
