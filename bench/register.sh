#!/usr/bin/env bash
# REGISTER throughput: Parrot's registrar with the in-memory store
# (`registrar` example) and with the Redis store (`pbx --store redis://`),
# against Kamailio's registrar/usrloc in memory (bench/kamailio/registrar.cfg),
# in the same run.
#
# Each server is pinned to CPU 1; SIPp (and Redis) run on CPU 0. For every
# server, two SIPp runs register USERS distinct users over and over
# (bench/sipp/register.xml, one REGISTER per call):
#   - a fixed rate (RATE/s for SECONDS s): server CPU per REGISTER;
#   - as fast as it goes (SATURATE/s offered, at most LIMIT outstanding):
#     REGISTERs completed per second, the server's CPU use meanwhile (below
#     100% means SIPp, not the server, was the limit) and CPU per REGISTER
#     at that rate. (Thousands of outstanding REGISTERs are a burst Parrot's
#     overload control answers with 503 by design: its backlog mark.)
# The report (target/register-bench/<time>/REGISTER.md) has both, with
# ratios to Kamailio.
#
# Usage: bench/register.sh [--no-install] [--out DIR] [--servers "parrot parrot-redis kamailio"]
# Environment: USERS (10000), RATE (2000), RUN_SECONDS (8), SATURATE (30000),
# LIMIT (400), KAM_CHILDREN (2).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

INSTALL=1
OUT=""
SERVERS=${SERVERS:-"parrot parrot-redis kamailio"}
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
parse_args "parrot parrot-redis kamailio" "$@"

USERS=${USERS:-10000}
RATE=${RATE:-2000}
SECONDS_RUN=${RUN_SECONDS:-8}
QUIET_WAIT=${QUIET_WAIT:-20}
QUIET_MAX=${QUIET_MAX:-15}
SATURATE=${SATURATE:-30000}
LIMIT=${LIMIT:-400}
KAM_CHILDREN=${KAM_CHILDREN:-2}
SERVER_CPU=1
SIPP_CPU=0
HOST=127.0.0.1
declare -A PORT=([parrot]=5170 [parrot-redis]=5180 [kamailio]=5190)
REDIS_PORT=6391
NEXT_SIPP_PORT=6200

open_output register register-bench REGISTER.md

if [ "$INSTALL" = 1 ]; then
    install_missing sipp:sip-tester kamailio:kamailio redis-server:redis-server \
        taskset:util-linux pgrep:procps
fi
require_tools sipp kamailio redis-server taskset pgrep cargo
set_nice
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: everything shares CPU 0"
    SERVER_CPU=0
fi
ulimit -n 65536 2>/dev/null || true

log "building the registrar and pbx examples (release)"
(cd "$ROOT" && cargo build --release -p examples --bin registrar --bin pbx) \
    >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
REGISTRAR_BIN="$ROOT/target/release/registrar"
PBX_BIN="$ROOT/target/release/pbx"

USERS_CSV="$OUT/users.csv"
{
    echo SEQUENTIAL
    for i in $(seq 1 "$USERS"); do echo "user$i;"; done
} >"$USERS_CSV"

# One REGISTER, bounded to 3 s: the server is up and answers.
probe() {
    local port=$NEXT_SIPP_PORT
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    timeout -k 1 6 sipp "$HOST:${PORT[$1]}" -sf "$HERE/sipp/register.xml" -inf "$USERS_CSV" \
        -t u1 -i "$HOST" -p "$port" -m 1 -r 1 -timeout 3s -timeout_error \
        -recv_timeout 2000 -nostdin >/dev/null 2>&1
}

REDIS_PID=""
start_redis() {
    "${NICE[@]}" taskset -c "$SIPP_CPU" redis-server --bind "$HOST" --port "$REDIS_PORT" \
        --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    local i
    for i in $(seq 1 50); do
        (exec 3<>"/dev/tcp/$HOST/$REDIS_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "redis-server does not start" >&2
    exit 1
}

start() {
    local name=$1 log_file="$OUT/$1/server.log" i
    mkdir -p "$OUT/$name"
    require_free_port "${PORT[$name]}"
    case "$name" in
        parrot)
            RUST_LOG=warn "${NICE[@]}" taskset -c "$SERVER_CPU" "$REGISTRAR_BIN" \
                --listen "$HOST:${PORT[$name]}" >"$log_file" 2>&1 &
            ;;
        parrot-redis)
            [ -n "$REDIS_PID" ] || start_redis
            RUST_LOG=warn "${NICE[@]}" taskset -c "$SERVER_CPU" "$PBX_BIN" \
                --listen "$HOST:${PORT[$name]}" --store "redis://$HOST:$REDIS_PORT/" \
                >"$log_file" 2>&1 &
            ;;
        kamailio)
            mkdir -p "$OUT/kamailio/run"
            "${NICE[@]}" taskset -c "$SERVER_CPU" kamailio -DD -E -f "$HERE/kamailio/registrar.cfg" \
                -l "udp:$HOST:${PORT[$name]}" -n "$KAM_CHILDREN" -m 512 -M 16 \
                -Y "$OUT/kamailio/run" -w "$OUT/kamailio/run" >"$log_file" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    SERVER_PID=$!
    SERVER_NAME=$name
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 20); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$log_file" >&2; exit 1; }
        if probe "$name"; then return 0; fi
        sleep 0.5
    done
    tail -20 "$log_file" >&2
    echo "$name does not answer a REGISTER" >&2
    exit 1
}


# run LABEL RATE CALLS: SIPp on SIPP_CPU; sets OK, FAILED, ELAPSED, TICKS.
run() {
    local label=$1 rate=$2 calls=$3 dir port t0 t1 start pid bound
    dir="$OUT/$SERVER_NAME/$label"
    mkdir -p "$dir"
    port=$NEXT_SIPP_PORT
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    bound=$((calls / (rate < 1000 ? rate : 1000) + 30))
    t0=$(server_ticks)
    start=$(date +%s.%N)
    (cd "$dir" && exec "${NICE[@]}" taskset -c "$SIPP_CPU" timeout -k 5 "$((bound + 10))" \
        sipp "$HOST:${PORT[$SERVER_NAME]}" -sf "$HERE/sipp/register.xml" -inf "$USERS_CSV" \
        -t u1 -i "$HOST" -p "$port" -m "$calls" -r "$rate" -rp 1000 -l "$LIMIT" \
        -timeout "${bound}s" -timeout_error -recv_timeout 10000 -buff_size 4194304 \
        -nostdin -trace_stat -stf stat.csv -fd 1 >stdout.log 2>stderr.log) &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    t1=$(server_ticks)
    ELAPSED=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    TICKS=$((t1 - t0))
    OK=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    FAILED=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    log "$(printf '%-13s %-9s offered %6s/s: ok %s failed %s in %ss, server CPU %s ticks' \
        "$SERVER_NAME" "$label" "$rate" "$OK" "$FAILED" "$ELAPSED" "$TICKS")"
}

declare -A CPU_US RATE_DONE FAILS SAT_CPU SAT_US
for s in $SERVERS; do
    start "$s"
    wait_quiet server_ticks
    run fixed "$RATE" $((RATE * SECONDS_RUN))
    CPU_US[$s]=$(awk -v t="$TICKS" -v hz="$CLK_TCK" -v n="$OK" \
        'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')
    FAILS[$s]=$FAILED
    wait_quiet server_ticks
    run saturate "$SATURATE" $((SATURATE * 4))
    RATE_DONE[$s]=$(awk -v n="$OK" -v e="$ELAPSED" 'BEGIN { printf "%.0f", (e > 0) ? n / e : 0 }')
    SAT_CPU[$s]=$(awk -v t="$TICKS" -v hz="$CLK_TCK" -v e="$ELAPSED" 'BEGIN { printf "%.0f", (e > 0) ? 100 * t / hz / e : 0 }')
    SAT_US[$s]=$(awk -v t="$TICKS" -v hz="$CLK_TCK" -v n="$OK" \
        'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')
    FAILS[$s]="${FAILS[$s]} / $FAILED"
    stop_server
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
out "# REGISTER throughput ($(date -u +%Y-%m-%d), parrot $REV)"
out ""
out "$USERS distinct users, one binding each; servers on CPU $SERVER_CPU, SIPp and Redis on CPU $SIPP_CPU."
out "CPU per REGISTER at $RATE/s for ${SECONDS_RUN}s; REGISTERs/s completed with $SATURATE/s offered (at most $LIMIT outstanding)."
out ""
out "| server | CPU per REGISTER at $RATE/s (µs) | vs Kamailio | REGISTERs/s saturated | vs Kamailio | server CPU then | CPU per REGISTER then (µs) | vs Kamailio | failed (fixed / saturated) |"
out "|---|---|---|---|---|---|---|---|---|"
for s in $SERVERS; do
    out "| $s | ${CPU_US[$s]} | $(ratio "${CPU_US[$s]}" "${CPU_US[kamailio]:-0}") | ${RATE_DONE[$s]} | $(ratio "${RATE_DONE[$s]}" "${RATE_DONE[kamailio]:-0}") | ${SAT_CPU[$s]}% | ${SAT_US[$s]} | $(ratio "${SAT_US[$s]}" "${SAT_US[kamailio]:-0}") | ${FAILS[$s]} |"
done
log "report: $REPORT"
