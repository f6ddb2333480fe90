#!/usr/bin/env bash
# Calls per second between registered users: through one `pbx` node, and
# through two nodes behind Kamailio (deploy/kamailio-edge.cfg), the nodes
# sharing one Redis: the scale-out figure.
#
# Every user's phone is one SIPp uas; SIPp calls the users
# (tests/scenarios/edge_call.xml: INVITE, 200, ACK, a 1 s call, BYE) at
# rising rates, RUN_SECONDS each, and the highest rate with at most 0.1% of
# calls failed is the figure.
#   one: the callers and phones talk to node A directly (CPU 1);
#   two: they talk to Kamailio, which spreads the calls over nodes A
#        (CPU 1) and B (CPU 0).
# On a machine with few cores everything shares them (SIPp, Kamailio,
# Redis and the nodes): the ratio then says what the cluster costs more
# than how it scales; the report prints the core count.
#
# Usage: bench/scale.sh [--no-install] [--out DIR]
# Environment: USERS (2000), RATES ("250 500 1000 1500 2000 3000"),
# RUN_SECONDS (10).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

INSTALL=1
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --out) OUT=$2; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

USERS=${USERS:-2000}
RATES=${RATES:-"250 500 1000 1500 2000 3000"}
RUN_SECONDS=${RUN_SECONDS:-10}
QUIET_WAIT=${QUIET_WAIT:-20}
QUIET_MAX=${QUIET_MAX:-15}
HOST=127.0.0.1
PORT_A=5370
PORT_B=5371
PORT_EDGE=5372
PORT_PHONE=5373
REDIS_PORT=6392
NEXT_SIPP_PORT=6400
SCENARIOS="$ROOT/tests/scenarios"

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
open_output scale scale-bench SCALE.md

if [ "$INSTALL" = 1 ]; then
    install_missing sipp:sip-tester kamailio:kamailio redis-server:redis-server \
        taskset:util-linux pgrep:procps
fi
require_tools sipp kamailio redis-server taskset pgrep cargo
set_nice
CORES=$(nproc)
CPU_B=0
[ "$CORES" -ge 2 ] || log "only one CPU: everything shares CPU 0"
CPU_A=$((CORES >= 2 ? 1 : 0))
ulimit -n 65536 2>/dev/null || true

log "building the pbx example (release)"
(cd "$ROOT" && cargo build --release -p examples --bin pbx) >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log" >&2; exit 1; }
PBX_BIN="$ROOT/target/release/pbx"

{
    echo SEQUENTIAL
    for i in $(seq 1 "$USERS"); do echo "user$i;$HOST:$PORT_PHONE"; done
} >"$OUT/users.csv"
{
    echo SEQUENTIAL
    for i in $(seq 1 "$USERS"); do echo "user$i;"; done
} >"$OUT/callees.csv"

background() { # NAME CMD...: started, recorded, logged to OUT/NAME.log
    local name=$1
    shift
    "$@" >"$OUT/$name.log" 2>&1 &
    PIDS+=("$!")
    eval "PID_${name//-/_}=$!"
}

# sipp_run LABEL TARGET_PORT SCENARIO CSV RATE CALLS: sets OK, FAILED.
sipp_run() {
    local label=$1 port=$2 scenario=$3 csv=$4 rate=$5 calls=$6 dir
    dir="$OUT/$label"
    mkdir -p "$dir"
    (cd "$dir" && exec "${NICE[@]}" timeout -k 5 $((calls / rate + 60)) sipp "$HOST:$port" \
        -sf "$SCENARIOS/$scenario" -inf "$csv" -t u1 -i "$HOST" -p "$NEXT_SIPP_PORT" \
        -m "$calls" -r "$rate" -rp 1000 -l $((rate * 4 + 100)) -timeout $((calls / rate + 50))s \
        -recv_timeout 10000 -buff_size 4194304 -nostdin -trace_stat -stf stat.csv -fd 1 \
        >stdout.log 2>stderr.log) || true
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    OK=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    FAILED=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    log "$(printf '%-22s %5s/s: ok %s failed %s' "$label" "$rate" "$OK" "$FAILED")"
}

# steps MODE PORT: the highest rate of RATES with at most 0.1% failed.
steps() {
    local mode=$1 port=$2 rate calls best=0
    for rate in $RATES; do
        wait_quiet machine_zero
        calls=$((rate * RUN_SECONDS))
        sipp_run "$mode-calls-$rate" "$port" edge_call.xml "$OUT/callees.csv" "$rate" "$calls"
        if [ $((FAILED * 1000)) -le "$calls" ] && [ "$OK" -ge $((calls * 999 / 1000)) ]; then
            best=$rate
        else
            break
        fi
    done
    BEST=$best
}
machine_zero() { echo 0; }

background redis "${NICE[@]}" taskset -c "$CPU_B" redis-server --bind "$HOST" \
    --port "$REDIS_PORT" --save '' --appendonly no
background phone "${NICE[@]}" sipp -sn uas -i "$HOST" -p "$PORT_PHONE" -t u1 -nostdin \
    -timeout 3600s -buff_size 4194304
STORE="redis://$HOST:$REDIS_PORT/"
sleep 1

# One node.
background node-a env RUST_LOG=warn "${NICE[@]}" taskset -c "$CPU_A" "$PBX_BIN" \
    --listen "$HOST:$PORT_A" --store "$STORE"
sleep 1
sipp_run one-register "$PORT_A" edge_register.xml "$OUT/users.csv" 500 "$USERS"
[ "$OK" = "$USERS" ] || { echo "registration through node A failed" >&2; exit 1; }
steps one "$PORT_A"
ONE=$BEST

# Two nodes behind Kamailio.
background node-b env RUST_LOG=warn "${NICE[@]}" taskset -c "$CPU_B" "$PBX_BIN" \
    --listen "$HOST:$PORT_B" --store "$STORE"
MODULES=$(dirname "$(ls /usr/lib/*/kamailio/modules/dispatcher.so /usr/lib/kamailio/modules/dispatcher.so 2>/dev/null | head -1)")
mkdir -p "$OUT/kamailio/run"
printf '1 sip:%s:%s 0 0\n1 sip:%s:%s 0 0\n' "$HOST" "$PORT_A" "$HOST" "$PORT_B" \
    >"$OUT/kamailio/dispatcher.list"
sed -e "s|@UDP@|$HOST:$PORT_EDGE|" -e "s|@MODULES@|$MODULES|" -e "s|@DIR@|$OUT/kamailio|" \
    -e 's/^debug=2/debug=1/' -e 's/^\(\s*\)xlog(/\1# xlog(/' \
    "$ROOT/deploy/kamailio-edge.cfg" >"$OUT/kamailio/kamailio.cfg"
background kamailio "${NICE[@]}" kamailio -DD -E -f "$OUT/kamailio/kamailio.cfg" -m 512 -M 16 \
    -Y "$OUT/kamailio/run" -w "$OUT/kamailio/run"
sleep 3
sipp_run two-register "$PORT_EDGE" edge_register.xml "$OUT/users.csv" 500 "$USERS"
[ "$OK" = "$USERS" ] || { echo "registration through the edge failed" >&2; exit 1; }
steps two "$PORT_EDGE"
TWO=$BEST

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
out "# Calls between registered users ($(date -u +%Y-%m-%d), parrot $REV, $CORES cores)"
out ""
out "$USERS users on one Redis; SIPp callers and phones; ${RUN_SECONDS}s per rate of: $RATES."
out ""
out "| setup | highest rate with ≤ 0.1% failed (calls/s) | vs one node |"
out "|---|---|---|"
out "| one pbx node | $ONE | 1.00 |"
out "| two pbx nodes behind Kamailio | $TWO | $(awk -v a="$TWO" -v b="$ONE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') |"
log "report: $REPORT"
