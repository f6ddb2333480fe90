#!/usr/bin/env bash
# Load benchmark: the same SIPp load against three UAS on loopback, in one go.
#
#   1. parrot     - the `answer` example (release build)          127.0.0.1:5070
#   2. rsipstack  - bench/rsipstack-uas (release build)           127.0.0.1:5080
#   3. kamailio   - stateful UAS, bench/kamailio/uas.cfg (tm)     127.0.0.1:5090
# and, in the CPU phase only, the floor and parrot at the references' work:
#   4. floor      - bench/floor-uas: copies a request's Via, From, To,
#                   Call-ID and CSeq into a 200 and does nothing else    127.0.0.1:5085
#      What it costs per call is the kernel's side of the call (the five
#      datagrams, the wake-ups between SIPp's bursts): no server can go
#      below it, and each server's CPU per call above it is its own work.
#   5. floor-parse - the floor that first parses each request with
#                   parrot's parser (`floor-uas --parse`)              127.0.0.1:5086
#      What validating as parrot does costs at the least: above it is the
#      rest of parrot's work.
#   6. parrot-fixed - bench/src/bin/fixed-answer.rs: parrot answering each
#                   INVITE with one fixed SDP, as the references do      127.0.0.1:5071
#      The answer example parses each offer, negotiates and writes its
#      answer, and gives every call a session timer: application work the
#      references' servers do not do. The targets stay on the example.
#
# Installs sip-tester and kamailio with apt-get when missing (sudo when not
# root), builds both Rust servers in release, then measures. Every
# measurement starts a fresh server pinned to CPU 1 (`taskset -c 1`), SIPp
# pinned to CPU 0, the three servers taking turns; each table has one row
# per server and the ratio to parrot:
#   - CPU time per call: SIPp's built-in `uac` scenario at fixed rates for a
#     fixed call count; the server's on-CPU time (schedstat of every
#     thread of every process of the server, in ns; utime+stime ticks for
#     a run in which a thread ended) over the run / successful calls;
#     median of CPU_REPEAT runs.
#   - Call-setup latency at 1000 calls/s: INVITE -> 200 p50/p99, from SIPp's
#     response-time trace (-trace_rtt, the `rtd` mark on the 200 of the
#     built-in uac; millisecond resolution), from SIPp's message log
#     (-trace_msg timestamps; microsecond resolution) and on the wire: a
#     tcpdump capture of the run on the loopback device, the kernel's
#     timestamps of each INVITE and its 200 (the bench crate's
#     `wirelatency`), the server's own setup time without SIPp's queueing
#     and log writing.
#   - Highest sustained rate on one core: rate stepped up (36 s steps, past
#     the 32 s transaction lifetimes) until failed calls or retransmissions
#     exceed 0.1% of the calls.
#   - Memory per established dialog: RSS (and PSS) with N calls held open
#     (`uac` with a long pause), minus the idle RSS of the fresh server, / N.
#   - Parser: the criterion comparison (cargo bench -p bench --features
#     compare --bench parse), summarized.
# Then the targets, and, when parrot misses one (or with --profile), a perf
# profile of the parrot server at 1000 calls/s.
#
# usage: bench/load.sh [--quick] [--no-parser] [--no-install] [--profile]
#                      [--no-profile] [--no-pgo] [--out DIR]
#                      [--servers "parrot kamailio rsipstack"]
#   --quick       short runs (a smoke test of the harness; rough numbers)
#   --no-pgo      plain release builds of both Rust servers; by default both
#                 are built profile-guided (bench/pgo.sh: the same training,
#                 20000 SIPp uac calls at 2000/s on the server's CPU, for
#                 each; rsipstack trained on both of its runtimes), the
#                 build a deployment that cares about CPU would use
#   --out DIR     where logs and results go (default: target/load-bench/<UTC time>)
# The tables go to stdout and to DIR/PERFORMANCE.md; a standard run (all
# three servers, no --quick, no --no-pgo, no knob set) also copies it to
# bench/PERFORMANCE.md.
# Knobs (environment): CPU_RATES, CPU_SECONDS, CPU_REPEAT, LAT_RATE,
# LAT_SECONDS, STEP_RATES, STEP_SECONDS, HOLD_COUNTS, HOLD_RATE, HOLD_LATE,
# KAM_CHILDREN, KAM_SHM_MB, KAM_PKG_MB, SERVER_CPU (default 1),
# RSUAS_RUNTIME (rsipstack's tokio runtime: multi-thread, the default, or
# current-thread), CPU_CONFIGS (1, the default: the CPU phase also runs
# kamailio-8, Kamailio with its default 8 UDP children, and rsipstack-ct,
# rsipstack on a current-thread runtime, and each CPU target is taken
# against the cheaper configuration of its reference; 0: off), CPU_FLOOR
# (1, the default: the CPU phase also runs the floor and floor-parse; 0:
# off), CPU_FIXED (1,
# the default: the CPU phase also runs parrot-fixed; 0: off; never with
# PARROT_BIN), SIPP_BUFFER (SIPp socket buffers,
# default 4 MiB), BENCH_NICE (default -10; 0: off),
# QUIET_MAX, QUIET_WAIT, MAX_SECONDS (overall budget, default 1500);
# PARROT_BIN=path runs that build of the parrot server (same CLI as
# `answer`) instead of building the workspace's, e.g. to compare a fix;
# PARROT_ARGS adds options to its command line, e.g. "--shards 2" with
# SERVER_CPU=0,1;
# PHASES (default "cpu latency steps memory") picks the measurements, e.g.
# PHASES=steps STEP_RATES="8000 10000" to try two one-core steps only.
#
# Everything is bounded: each SIPp run has a call count (-m) and a time limit
# (-timeout, and a kill by pid after it); every process this script starts is
# killed by pid on exit. Traffic goes to 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

QUICK=0
PARSER=1
INSTALL=1
PROFILE=auto
PGO=1
OUT=""
SERVERS=${SERVERS:-"parrot kamailio rsipstack"}
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-parser) PARSER=0 ;;
        --no-install) INSTALL=0 ;;
        --profile) PROFILE=1 ;;
        --no-profile) PROFILE=0 ;;
        --no-pgo) PGO=0 ;;
        --out) OUT=$2; shift ;;
        --servers) SERVERS=$2; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Any measurement knob set: not the standard run (bench/PERFORMANCE.md is
# only rewritten by a standard one).
CUSTOM=0
[ -z "${PARROT_ARGS:-}${CPU_RATES:-}${CPU_SECONDS:-}${CPU_REPEAT:-}${LAT_RATE:-}${LAT_SECONDS:-}${STEP_RATES:-}${STEP_SECONDS:-}${HOLD_COUNTS:-}${HOLD_RATE:-}${HOLD_LATE:-}${PHASES:-}${SERVER_CPU:-}${RSUAS_RUNTIME:-}${CPU_CONFIGS:-}${CPU_FLOOR:-}${CPU_FIXED:-}" ] && [ "$PGO" = 1 ] || CUSTOM=1
PHASES=${PHASES:-"cpu latency steps memory"}
for p in $PHASES; do
    case "$p" in
        cpu | latency | steps | memory) ;;
        *) echo "unknown phase in PHASES: $p (cpu latency steps memory)" >&2; exit 2 ;;
    esac
done
phase_on() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if [ "$QUICK" = 1 ]; then
    CPU_RATES=${CPU_RATES:-"1000"}
    CPU_SECONDS=${CPU_SECONDS:-3}
    CPU_REPEAT=${CPU_REPEAT:-1}
    LAT_SECONDS=${LAT_SECONDS:-3}
    STEP_RATES=${STEP_RATES:-"2000 4000"}
    STEP_SECONDS=${STEP_SECONDS:-3}
    HOLD_COUNTS=${HOLD_COUNTS:-"2000"}
    HOLD_LATE=${HOLD_LATE:-0}
fi
CPU_RATES=${CPU_RATES:-"500 1000 2000"}
CPU_SECONDS=${CPU_SECONDS:-6}
# Runs per rate and server (the median is reported: on a VM the same run
# varies by 10-20% from one try to the next).
CPU_REPEAT=${CPU_REPEAT:-5}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECONDS=${LAT_SECONDS:-10}
# Each step lasts longer than the longest transaction lifetime (64*T1 =
# 32 s: INVITE server transactions in Accepted, non-INVITE in Completed),
# so that a step measures the steady state, not a burst. The steps go
# past 1.5x the highest rate Kamailio has passed (10000/s), so that the
# target's verdict is not left to a server passing every step.
STEP_RATES=${STEP_RATES:-"1000 2000 4000 6000 8000 10000 12000 16000 20000 24000"}
STEP_SECONDS=${STEP_SECONDS:-36}
HOLD_COUNTS=${HOLD_COUNTS:-"10000 50000"}
HOLD_RATE=${HOLD_RATE:-2500}
# Seconds after the last call is set up: a first sample (INVITE server
# transactions still in their 2xx-retransmission/Accepted state, RFC 6026:
# up to 64*T1 = 32 s) and a second one once those have ended (0: skip).
HOLD_SETTLE=${HOLD_SETTLE:-3}
HOLD_LATE=${HOLD_LATE:-35}
HOLD_LATE_MAX=${HOLD_LATE_MAX:-10000} # the second sample only for counts up to this
KAM_CHILDREN=${KAM_CHILDREN:-2}
# Kamailio's shared memory holds every transaction until its wait timer
# (5 s) ends, about 13 kB each here: 256 MB runs out at about 4000 calls/s
# and 1 GB at 8000, so 2 GB (reserved; only what is touched is resident).
KAM_SHM_MB=${KAM_SHM_MB:-2048}
KAM_PKG_MB=${KAM_PKG_MB:-16}
MAX_SECONDS=${MAX_SECONDS:-1500}
# The servers' CPU list (taskset -c): SERVER_CPU=0,1 gives them both cores,
# SIPp keeping CPU 0 (the multi-core measurement).
SERVER_CPU=${SERVER_CPU:-1}
SIPP_CPU=0
HOST=127.0.0.1
declare -A PORT=([parrot]=5070 [parrot-fixed]=5071 [rsipstack]=5080 [rsipstack-ct]=5081 [floor]=5085 [floor-parse]=5086 [kamailio]=5090 [kamailio-8]=5091)
# The references' other configurations, measured in the CPU phase only; a
# target's ratio is taken against the cheaper configuration of each.
declare -A CONFIG_OF=([rsipstack]=rsipstack-ct [kamailio]=kamailio-8)
CPU_SERVERS=""
for s in $SERVERS; do
    CPU_SERVERS+=" $s"
    [ -z "${CONFIG_OF[$s]:-}" ] || [ "${CPU_CONFIGS:-1}" = 0 ] || CPU_SERVERS+=" ${CONFIG_OF[$s]}"
    # parrot at the references' application work; not for another build
    # of the answer server (PARROT_BIN), which it would not match.
    [ "$s" != parrot ] || [ "${CPU_FIXED:-1}" = 0 ] || [ -n "${PARROT_BIN:-}" ] ||
        CPU_SERVERS+=" parrot-fixed"
done
[ "${CPU_FLOOR:-1}" = 0 ] || CPU_SERVERS+=" floor floor-parse"
NEXT_SIPP_PORT=6100
# SIPp's socket buffers (-buff_size; Linux caps it at net.core.rmem_max):
# with the default (~200 KB) SIPp itself drops responses it cannot drain
# at once from 8000 calls/s on, and its retransmissions would count
# against whichever server it measures.
SIPP_BUFFER=${SIPP_BUFFER:-4194304}
THRESHOLD_PERMILLE=1 # 0.1%

# Output directory, log and report; processes (every pid started is
# recorded in PIDS and killed on exit), installs, the server's start, stop,
# CPU time and memory: shared by bench/load.sh and bench/overload.sh.
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
open_output load load-bench PERFORMANCE.md

over_budget() { [ "$SECONDS" -ge "$MAX_SECONDS" ]; }

# ---------------------------------------------------------------------------
# Install and build.
if [ "$INSTALL" = 1 ]; then
    install_missing sipp:sip-tester kamailio:kamailio taskset:util-linux pgrep:procps tcpdump:tcpdump
    if ! command -v perf >/dev/null 2>&1; then
        log "perf is missing: trying to install linux-perf (profiling only)"
        ($SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y linux-perf) >"$OUT/perf-install.log" 2>&1 ||
            log "linux-perf not installed; profiling will be skipped"
    fi
fi
require_tools sipp kamailio taskset pgrep cargo
set_nice
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: server and SIPp share CPU 0"
    SERVER_CPU=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PARROT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- parrot parrot-macros examples bench/src/bin/fixed-answer.rs 2>/dev/null || PARROT_REV+="+changes"
# pgo_build LOG_NAME PGO_ARGS...: bench/pgo.sh, its output in the log.
pgo_build() {
    local name=$1
    shift
    local install=()
    [ "$INSTALL" = 0 ] || install=(--install)
    "$HERE/pgo.sh" --cpu "$SERVER_CPU" --calls 20000 --rate 2000 "${install[@]}" "$@" \
        >"$OUT/build-$name.log" 2>&1 || { tail -30 "$OUT/build-$name.log" >&2; exit 1; }
}
# release_build LOG_NAME DIR CARGO_ARGS...: `cargo build --release` in DIR,
# its output in the log.
release_build() {
    local name=$1 dir=$2
    shift 2
    (cd "$dir" && cargo build --release "$@") >"$OUT/build-$name.log" 2>&1 ||
        { tail -30 "$OUT/build-$name.log" >&2; exit 1; }
}
# Where the workspace's release builds land.
RELEASE_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
# server_build LOG_NAME PACKAGE BIN WHAT: builds a workspace server
# binary in release, profile-guided unless --no-pgo (every Rust server is
# built the same way); sets BUILT_BIN to it.
server_build() {
    local name=$1 package=$2 bin=$3 what=$4
    if [ "$PGO" = 1 ]; then
        log "building $what (release, profile-guided: bench/pgo.sh)"
        BUILT_BIN="$OUT/bin/$bin"
        pgo_build "$name" --package "$package" --bin "$bin" --out "$BUILT_BIN"
    else
        log "building $what (release)"
        release_build "$name" "$ROOT" -p "$package" --bin "$bin"
        BUILT_BIN="$RELEASE_DIR/$bin"
    fi
}
# PARROT_BIN: benchmark another build of the answer server (same CLI:
# --listen ADDR), e.g. to compare a fix against the example.
if [ -n "${PARROT_BIN:-}" ]; then
    log "parrot: using PARROT_BIN=$PARROT_BIN (not building the workspace)"
    ANSWER_BIN=$PARROT_BIN
else
    server_build parrot examples answer "parrot's answer example"
    ANSWER_BIN=$BUILT_BIN
fi
[ -x "$ANSWER_BIN" ] || { echo "no executable $ANSWER_BIN" >&2; exit 1; }
FIXED_BIN=""
if [[ " $CPU_SERVERS " == *" parrot-fixed "* ]]; then
    server_build parrot-fixed bench fixed-answer "bench's fixed-answer"
    FIXED_BIN=$BUILT_BIN
fi
RSUAS_BIN=""
if [[ " $SERVERS " != *" rsipstack "* ]]; then
    : # not measured: not built
elif [ "$PGO" = 1 ]; then
    log "building bench/rsipstack-uas (release, profile-guided: bench/pgo.sh, both runtimes)"
    RSUAS_BIN="$OUT/bin/rsipstack-uas"
    pgo_build rsipstack --dir "$HERE/rsipstack-uas" --bin rsipstack-uas --out "$RSUAS_BIN" \
        --train-env RSUAS_RUNTIME=multi-thread --train-env RSUAS_RUNTIME=current-thread
else
    log "building bench/rsipstack-uas (release)"
    release_build rsipstack "$HERE/rsipstack-uas"
    RSUAS_BIN="$HERE/rsipstack-uas/target/release/rsipstack-uas"
fi
# The latency phase's reader of its capture (the call-setup time on the
# wire).
WIRE_BIN=""
case " $PHASES " in *" latency "*)
    log "building bench's wirelatency (release)"
    release_build wirelatency "$ROOT" -p bench --bin wirelatency
    WIRE_BIN="$RELEASE_DIR/wirelatency" ;;
esac
FLOOR_BIN="$HERE/floor-uas/target/release/floor-uas"
case " $CPU_SERVERS " in *" floor "*)
    log "building bench/floor-uas (release)"
    release_build floor "$HERE/floor-uas" ;;
esac
KAM_CFG="$HERE/kamailio/uas.cfg"

# ---------------------------------------------------------------------------
# Servers.
start_server() {
    start_server_as "$1" "$OUT/$1/server-$2.log"
}
# One call (uac), bounded to 3 s: the server is up and answers.
probe_call() {
    local port=$NEXT_SIPP_PORT
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    timeout -k 1 6 sipp "$HOST:${PORT[$1]}" -sn uac -t u1 -i "$HOST" -p "$port" \
        -m 1 -r 1 -timeout 3s -timeout_error -recv_timeout 2000 -nostdin \
        >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# SIPp runs.

# run_sipp LABEL RATE CALLS LIMIT [extra sipp args...]
# Runs the built-in uac against the current server, SIPp on SIPP_CPU,
# bounded by -m CALLS and -timeout (CALLS/RATE + 30 s), killed 10 s after
# that. Sets RUN_DIR, RUN_OK, RUN_FAILED, RUN_UNFINISHED, RUN_RETRANS,
# RUN_TICKS (server CPU), RUN_NS (the same in ns, see read_server_cpu),
# RUN_SLICES (the times the server's threads were put on a CPU; empty when
# not known, see server_cpu_ns_since),
# RUN_SIPP_PCT, RUN_ELAPSED.
run_sipp() {
    local label=$1 rate=$2 calls=$3 limit=$4
    shift 4
    RUN_DIR="$OUT/$SERVER_NAME/$label"
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR"
    local port=$NEXT_SIPP_PORT
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    local bound=$((calls / rate + 30))
    local t0 t1 start pid sipp_ticks m0 m1 ns0 tids0 slices0
    read_server_cpu
    ns0=$SERVER_NS tids0=$SERVER_TIDS slices0=$SERVER_SLICES
    t0=$(server_ticks)
    m0=$(machine_busy_ticks)
    start=$(date +%s.%N)
    (cd "$RUN_DIR" && exec "${NICE[@]}" taskset -c "$SIPP_CPU" sipp "$HOST:${PORT[$SERVER_NAME]}" \
        -sn uac -t u1 -i "$HOST" -p "$port" -m "$calls" -r "$rate" -rp 1000 \
        -l "$limit" -timeout "${bound}s" -timeout_error -recv_timeout 10000 \
        -max_socket 1000 -buff_size "$SIPP_BUFFER" -nostdin -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file errors.log "$@" >stdout.log 2>stderr.log) &
    pid=$!
    PIDS+=("$pid")
    watch_bounded "$pid" $((bound + 10)) "$SERVER_NAME $label: SIPp"
    sipp_ticks=$WATCHED_TICKS
    t1=$(server_ticks)
    m1=$(machine_busy_ticks)
    RUN_ELAPSED=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    RUN_TICKS=$((t1 - t0))
    server_cpu_ns_since "$ns0" "$tids0" "$RUN_TICKS" "$slices0"
    RUN_OK=$(stat_col "$RUN_DIR/stat.csv" 'SuccessfulCall(C)')
    RUN_FAILED=$(stat_col "$RUN_DIR/stat.csv" 'FailedCall(C)')
    RUN_RETRANS=$(stat_col "$RUN_DIR/stat.csv" 'Retransmissions(C)')
    RUN_UNFINISHED=$((calls - RUN_OK - RUN_FAILED))
    [ "$RUN_UNFINISHED" -ge 0 ] || RUN_UNFINISHED=0
    RUN_SIPP_PCT=$(awk -v t="$sipp_ticks" -v hz="$CLK_TCK" -v e="$RUN_ELAPSED" \
        'BEGIN { printf "%.0f", (e > 0) ? 100 * t / hz / e : 0 }')
    # Everything else the machine did meanwhile, in % of one CPU (includes
    # the kernel's softirq work for the loopback traffic).
    RUN_OTHER_PCT=$(awk -v m="$((m1 - m0))" -v t="$RUN_TICKS" -v p="$sipp_ticks" -v hz="$CLK_TCK" -v e="$RUN_ELAPSED" \
        'BEGIN { o = (m - t - p) / hz / e * 100; printf "%.0f", (o > 0 && e > 0) ? o : 0 }')
    log "$(printf '%-9s %-14s %6s/s %7s calls: ok %s failed %s unfinished %s retrans %s, server CPU %s ticks (%s ms%s, %s times on a CPU), SIPp CPU %s%%, other %s%%, %ss' \
        "$SERVER_NAME" "$label" "$rate" "$calls" "$RUN_OK" "$RUN_FAILED" "$RUN_UNFINISHED" \
        "$RUN_RETRANS" "$RUN_TICKS" "$((RUN_NS / 1000000))" "$RUN_NS_NOTE" "${RUN_SLICES:--}" "$RUN_SIPP_PCT" "$RUN_OTHER_PCT" "$RUN_ELAPSED")"
}

# Percentiles (p50 p99 max) of a column of numbers on stdin.
percentiles() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - - 0"; exit }
        i50 = int(0.50 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
        print v[i50], v[i99], v[NR], NR }'
}
# INVITE sent -> first 200 to that INVITE received, in microseconds, per
# call, from a SIPp -trace_msg log.
msg_latencies_us() {
    awk '
        function flush() {
            if (kind == "inv" && cid != "" && !(cid in sent)) sent[cid] = t
            if (kind == "ok" && cid != "" && cseq ~ /INVITE/ && !(cid in got)) got[cid] = t
            kind = ""; cid = ""; cseq = ""
        }
        /^-----------+ [0-9-]+ [0-9:.]+$/ {
            flush(); split($NF, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3]; st = 1; next }
        st == 1 && /^UDP message sent/ { dir = "S"; st = 2; next }
        st == 1 && /^UDP message received/ { dir = "R"; st = 2; next }
        st == 2 && NF == 0 { next }
        st == 2 {
            if (dir == "S" && $1 == "INVITE") kind = "inv"
            else if (dir == "R" && $1 == "SIP/2.0" && $2 == "200") kind = "ok"
            st = 3; next }
        st == 3 && tolower($1) ~ /^(call-id|i):$/ { cid = $2; next }
        st == 3 && tolower($1) == "cseq:" { cseq = $3; next }
        END {
            flush()
            for (c in got) if (c in sent) {
                d = got[c] - sent[c]; if (d < 0) d += 86400
                printf "%.0f\n", d * 1e6 }
        }' "$1"
}

# Before a measurement: wait_quiet (bench/lib.sh) on the server's ticks.
# Reported per run as "other load" either way.
QUIET_MAX=${QUIET_MAX:-20}
QUIET_WAIT=${QUIET_WAIT:-10}

# Packet capture of a run's datagrams (tcpdump on the loopback device, on
# SIPp's CPU), for the setup time on the wire: sets CAPTURE_PID and
# CAPTURE_FILE; stop_capture stops it and sets CAPTURE_DROPS (what the
# kernel dropped, "-" when unknown). Without tcpdump CAPTURE_FILE is empty.
start_capture() {
    CAPTURE_PID="" CAPTURE_FILE="" CAPTURE_DROPS="-"
    command -v tcpdump >/dev/null 2>&1 || return 0
    local dir=$OUT/$SERVER_NAME i
    CAPTURE_FILE=$dir/capture.pcap
    rm -f "$CAPTURE_FILE" "$dir/capture.err"
    # -Z root: tcpdump would otherwise drop to its own user, who may not
    # write here. -B: 32 MB of ring, well above a run's bursts.
    taskset -c "$SIPP_CPU" tcpdump -i lo -n -s 0 -B 32768 -Z root --time-stamp-precision=nano \
        -w "$CAPTURE_FILE" "udp port ${PORT[$SERVER_NAME]}" 2>"$dir/capture.err" &
    CAPTURE_PID=$!
    PIDS+=("$CAPTURE_PID")
    # Bounded wait for the capture to be open (it says so on stderr).
    for i in $(seq 1 50); do
        grep -q "listening on" "$dir/capture.err" 2>/dev/null && return 0
        kill -0 "$CAPTURE_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "$SERVER_NAME: tcpdump did not start: $(tail -1 "$dir/capture.err" 2>/dev/null)"
    kill_pid_tree "$CAPTURE_PID"
    forget_pid "$CAPTURE_PID"
    CAPTURE_PID="" CAPTURE_FILE=""
}
stop_capture() {
    [ -n "${CAPTURE_PID:-}" ] || return 0
    # tcpdump reads the kernel's ring a block at a time, a block handed
    # over when full or after its 1 s timeout: stopped at once, it would
    # lose the run's last second.
    sleep 2
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
    forget_pid "$CAPTURE_PID"
    CAPTURE_DROPS=$(awk '/dropped by kernel/ { print $1 }' "$OUT/$SERVER_NAME/capture.err" 2>/dev/null)
    CAPTURE_DROPS=${CAPTURE_DROPS:--}
    CAPTURE_PID=""
}

# measure SERVER LABEL RATE CALLS LIMIT [extra sipp args]: a fresh server,
# one bounded SIPp run, the server stopped again. With NOISY_RETRIES=n in
# its environment, a run during which the rest of the machine used more
# than 2*QUIET_MAX % of a CPU is done again, up to n times; with CAPTURE=1,
# the run's datagrams are captured (start_capture).
measure() {
    local name=$1 label=$2 try=0
    shift 2
    while :; do
        start_server "$name" "$label"
        wait_quiet server_ticks
        [ "${CAPTURE:-0}" = 0 ] || start_capture
        run_sipp "$label" "$@"
        [ "${CAPTURE:-0}" = 0 ] || stop_capture
        stop_server
        [ "$RUN_OTHER_PCT" -gt $((2 * QUIET_MAX)) ] && [ "$try" -lt "${NOISY_RETRIES:-0}" ] || break
        try=$((try + 1))
        log "$name $label: other load ${RUN_OTHER_PCT}% during the run; again"
    done
}

# ---------------------------------------------------------------------------
# Results.
declare -A CPU_US CPU_OK CPU_FAIL CPU_RETRANS CPU_SIPP CPU_OTHER CPU_RUNS CPU_RANGE CPU_WAKE_RUNS CPU_WAKES
declare -A LAT_RTD LAT_US LAT_N LAT_WIRE LAT_DROPS
declare -A STEP_PASS STEP_FAIL STEP_WHY STEP_LOG STEP_DONE
declare -A MEM_IDLE MEM_RSS1 MEM_RSS2 MEM_PSS1 MEM_IDLE_PSS MEM_HELD MEM_BAD MEM_N

ratio() { # value / parrot's value, or "-"
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"
        else printf "%.2f×", a / b }'
}

# CPU time per call, one fresh server per run, servers interleaved per rate
# so that any drift of the machine's background load hits all three alike.
phase_cpu() {
    local rate s calls rep us wakes
    for rate in $CPU_RATES; do
        for s in $CPU_SERVERS; do
            CPU_OK[$s:$rate]=0
            CPU_FAIL[$s:$rate]=0
            CPU_RETRANS[$s:$rate]=0
            CPU_OTHER[$s:$rate]=0
            CPU_RUNS[$s:$rate]=""
            CPU_WAKE_RUNS[$s:$rate]=""
        done
        for rep in $(seq 1 "$CPU_REPEAT"); do
            for s in $CPU_SERVERS; do
                calls=$((rate * CPU_SECONDS))
                NOISY_RETRIES=1 measure "$s" "cpu-$rate-$rep" "$rate" "$calls" 30000
                CPU_OK[$s:$rate]=$((CPU_OK[$s:$rate] + RUN_OK))
                CPU_FAIL[$s:$rate]=$((CPU_FAIL[$s:$rate] + RUN_FAILED + RUN_UNFINISHED))
                CPU_RETRANS[$s:$rate]=$((CPU_RETRANS[$s:$rate] + RUN_RETRANS))
                CPU_SIPP[$s:$rate]=$RUN_SIPP_PCT
                [ "$RUN_OTHER_PCT" -le "${CPU_OTHER[$s:$rate]}" ] || CPU_OTHER[$s:$rate]=$RUN_OTHER_PCT
                us=$(awk -v t="$RUN_NS" -v n="$RUN_OK" \
                    'BEGIN { if (n > 0) printf "%.1f", t / 1e3 / n }')
                CPU_RUNS[$s:$rate]+="${us:+$us }"
                wakes=$(awk -v w="$RUN_SLICES" -v n="$RUN_OK" \
                    'BEGIN { if (w != "" && n > 0) printf "%.2f", w / n }')
                CPU_WAKE_RUNS[$s:$rate]+="${wakes:+$wakes }"
            done
        done
        for s in $CPU_SERVERS; do
            read -r "CPU_US[$s:$rate]" "CPU_RANGE[$s:$rate]" < <(printf '%s\n' ${CPU_RUNS[$s:$rate]} | sort -n |
                awk '{ v[NR] = $1 } END { if (NR == 0) print "- -"; else printf "%.1f %.0f–%.0f\n", v[int((NR + 1) / 2)], v[1], v[NR] }')
            # The median ("-" for no runs): percentiles' p50.
            read -r "CPU_WAKES[$s:$rate]" _ < <(for wakes in ${CPU_WAKE_RUNS[$s:$rate]}; do echo "$wakes"; done | percentiles)
        done
    done
}

# Call-setup latency at LAT_RATE.
phase_latency() {
    local s p calls=$((LAT_RATE * LAT_SECONDS))
    for s in $SERVERS; do
        CAPTURE=1 NOISY_RETRIES=2 measure "$s" "latency-$LAT_RATE" "$LAT_RATE" "$calls" 30000 \
            -trace_rtt -rtt_freq 1000 -trace_msg -message_file messages.log
        p=$(tail -q -n +2 "$RUN_DIR"/*_rtt.csv 2>/dev/null | awk -F';' '$3 == 1 { print $2 }' | percentiles)
        LAT_RTD[$s]=$p
        p=$(msg_latencies_us "$RUN_DIR/messages.log" | percentiles)
        LAT_US[$s]=$p
        LAT_WIRE[$s]="- - - 0"
        if [ -n "$CAPTURE_FILE" ] && [ -s "$CAPTURE_FILE" ]; then
            LAT_WIRE[$s]=$("$WIRE_BIN" "$CAPTURE_FILE" "${PORT[$s]}" \
                2>>"$OUT/$s/capture.err" | percentiles)
            LAT_DROPS[$s]=$CAPTURE_DROPS
            rm -f "$CAPTURE_FILE"
        fi
        LAT_N[$s]="$RUN_OK/$calls ok, $((RUN_FAILED + RUN_UNFINISHED)) failed, $RUN_RETRANS retrans, other load ${RUN_OTHER_PCT}%"
        rm -f "$RUN_DIR/messages.log"
    done
}

# Highest sustained rate on one core: each rate against each server still
# passing, until failures or retransmissions exceed 0.1% of the calls.
phase_steps() {
    local rate s calls bad limit
    for s in $SERVERS; do
        STEP_PASS[$s]=0
        STEP_FAIL[$s]="-"
        STEP_WHY[$s]="all steps passed"
        STEP_LOG[$s]=""
    done
    for rate in $STEP_RATES; do
        for s in $SERVERS; do
            [ -z "${STEP_DONE[$s]:-}" ] || continue
            if over_budget; then
                STEP_WHY[$s]="time budget reached before $rate/s"
                STEP_DONE[$s]=1
                continue
            fi
            calls=$((rate * STEP_SECONDS))
            measure "$s" "step-$rate" "$rate" "$calls" 60000
            bad=$((RUN_FAILED + RUN_UNFINISHED))
            limit=$((calls * THRESHOLD_PERMILLE / 1000))
            STEP_LOG[$s]+="$rate:$RUN_OK:$bad:$RUN_RETRANS:$RUN_SIPP_PCT:$RUN_OTHER_PCT "
            if [ "$bad" -gt "$limit" ] || [ "$RUN_RETRANS" -gt "$limit" ]; then
                STEP_FAIL[$s]=$rate
                STEP_WHY[$s]=$(awk -v rate="$rate" -v b="$bad" -v r="$RUN_RETRANS" -v n="$calls" -v p="$RUN_SIPP_PCT" \
                    'BEGIN { printf "%d/s: %.2f%% failed, %.2f%% retransmitted (SIPp CPU %d%%)", rate, 100*b/n, 100*r/n, p }')
                STEP_DONE[$s]=1
            else
                STEP_PASS[$s]=$rate
            fi
        done
    done
}

# Memory per established dialog: a fresh server per count.
phase_memory() {
    local n s hold ramp waited created port spid
    for n in $HOLD_COUNTS; do
        for s in $SERVERS; do
            if over_budget; then
                MEM_BAD[$s:$n]="skipped: time budget"
                continue
            fi
            start_server "$s" "hold-$n"
            wait_quiet server_ticks
            MEM_IDLE[$s:$n]=$(server_rss_kb)
            MEM_IDLE_PSS[$s:$n]=$(server_pss_kb)
            ramp=$(((n + HOLD_RATE - 1) / HOLD_RATE))
            hold=$(((ramp + HOLD_SETTLE + HOLD_LATE + 15) * 1000))
            RUN_DIR="$OUT/$s/hold-$n"
            rm -rf "$RUN_DIR"
            mkdir -p "$RUN_DIR"
            port=$NEXT_SIPP_PORT
            NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
            (cd "$RUN_DIR" && exec "${NICE[@]}" taskset -c "$SIPP_CPU" sipp "$HOST:${PORT[$s]}" \
                -sn uac -t u1 -i "$HOST" -p "$port" -m "$n" -r "$HOLD_RATE" -rp 1000 \
                -l $((n + 1000)) -d "$hold" -timeout "$((hold / 1000 + 30))s" -timeout_error \
                -recv_timeout 10000 -max_socket 1000 -buff_size "$SIPP_BUFFER" -nostdin -trace_stat -stf stat.csv -fd 1 \
                -trace_err -error_file errors.log >stdout.log 2>stderr.log) &
            spid=$!
            PIDS+=("$spid")
            # Wait until SIPp has created every call, then let them settle.
            waited=0
            while :; do
                created=$(stat_col "$RUN_DIR/stat.csv" TotalCallCreated)
                [ "$created" -ge "$n" ] && break
                if [ "$waited" -ge $((ramp * 3 + 20)) ] || ! kill -0 "$spid" 2>/dev/null; then
                    MEM_BAD[$s:$n]="only $created of $n calls created"
                    break
                fi
                sleep 1
                waited=$((waited + 1))
            done
            sleep "$HOLD_SETTLE"
            MEM_RSS1[$s:$n]=$(server_rss_kb)
            MEM_PSS1[$s:$n]=$(server_pss_kb)
            sleep 1.2 # one more statistics line
            MEM_HELD[$s:$n]="$(stat_col "$RUN_DIR/stat.csv" CurrentCall) held, $(stat_col "$RUN_DIR/stat.csv" 'FailedCall(C)') failed, $(stat_col "$RUN_DIR/stat.csv" 'Retransmissions(C)') retrans"
            MEM_N[$s:$n]=$(stat_col "$RUN_DIR/stat.csv" CurrentCall)
            [ "${MEM_N[$s:$n]}" -gt 0 ] && [ "${MEM_N[$s:$n]}" -le "$n" ] || MEM_N[$s:$n]=$n
            if [ "$HOLD_LATE" -gt 0 ] && [ "$n" -le "$HOLD_LATE_MAX" ]; then
                sleep "$HOLD_LATE"
                MEM_RSS2[$s:$n]=$(server_rss_kb)
            else
                MEM_RSS2[$s:$n]="-"
            fi
            log "$(printf '%-9s hold %6s: idle %s kB, held %s kB (+%ss: %s kB); %s' "$s" "$n" \
                "${MEM_IDLE[$s:$n]}" "${MEM_RSS1[$s:$n]}" "$HOLD_LATE" "${MEM_RSS2[$s:$n]}" \
                "${MEM_HELD[$s:$n]}")"
            kill_pid_tree "$spid"
            forget_pid "$spid"
            stop_server
        done
    done
}

# ---------------------------------------------------------------------------
# Run.
log "results in $OUT"
# The hypervisor's steal over the measurements (see the report's header).
read -r STEAL0 TOTAL0 < <(steal_and_total_ticks)
phase_on cpu && phase_cpu
phase_on latency && phase_latency
phase_on steps && phase_steps
phase_on memory && phase_memory
read -r STEAL1 TOTAL1 < <(steal_and_total_ticks)
STEAL_PCT=$(awk -v s="$((STEAL1 - STEAL0))" -v t="$((TOTAL1 - TOTAL0))" 'BEGIN { printf "%.2f", (t > 0) ? 100 * s / t : 0 }')

# Profile of parrot's answer at 1000 calls/s (perf, self time by symbol).
PROFILE_TXT="$OUT/parrot/profile.txt"
run_profile() {
    command -v perf >/dev/null 2>&1 || { log "no perf: profile skipped"; return 0; }
    log "profiling parrot at $LAT_RATE calls/s"
    start_server parrot profile
    local secs=$((LAT_SECONDS > 5 ? LAT_SECONDS : 5)) ppid
    perf record -F 1999 -g -p "$SERVER_PID" -o "$OUT/parrot/perf.data" -- sleep $((secs + 1)) \
        >"$OUT/parrot/perf-record.log" 2>&1 &
    ppid=$!
    PIDS+=("$ppid")
    run_sipp "profile-$LAT_RATE" "$LAT_RATE" $((LAT_RATE * secs)) 30000
    wait "$ppid" 2>/dev/null || true
    forget_pid "$ppid"
    stop_server
    perf report -i "$OUT/parrot/perf.data" --stdio --no-children --sort dso,symbol \
        --percent-limit 0.8 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 |
        sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' >"$PROFILE_TXT" || true
    perf report -i "$OUT/parrot/perf.data" --stdio --children --sort symbol \
        --percent-limit 4 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 |
        sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' >"$OUT/parrot/profile-children.txt" || true
}

# ---------------------------------------------------------------------------
# Parser comparison.
PARSER_TXT="$OUT/parser.txt"
if [ "$PARSER" = 1 ] && ! over_budget; then
    log "parser comparison (criterion)"
    crit_args=(--warm-up-time 1 --measurement-time 3)
    [ "$QUICK" = 1 ] && crit_args=(--warm-up-time 0.5 --measurement-time 1)
    (cd "$ROOT" && cargo bench -p bench --features compare --bench parse -- "${crit_args[@]}") \
        >"$OUT/parser-raw.log" 2>&1 || log "parser bench failed (see $OUT/parser-raw.log)"
    # "group/lib  time: [lo mid hi]" -> group lib mid_ns
    awk '
        function ns(v, u) { return u == "ns" ? v : u == "µs" || u == "us" ? v * 1e3 : u == "ms" ? v * 1e6 : u == "s" ? v * 1e9 : v }
        /^[A-Za-z_]+\/[A-Za-z_]+/ { id = $1 }
        /time:/ && id != "" {
            for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { split(id, g, "/"); print g[1], g[2], ns($(i + 2), $(i + 3)); id = ""; break } }
    ' "$OUT/parser-raw.log" >"$PARSER_TXT" || true
fi

# ---------------------------------------------------------------------------
# Report.
fmt_rate_row() { printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$@"; }
NAMES=()
for s in parrot kamailio rsipstack; do
    case " $SERVERS " in *" $s "*) NAMES+=("$s") ;; esac
done
has_parrot=0
case " $SERVERS " in *" parrot "*) has_parrot=1 ;; esac

# The lto and codegen-units settings of a Cargo.toml's release profile
# ("default" for those it leaves unset), e.g. "fat, 1".
release_profile() {
    awk '/^\[profile\.release\]/ { f = 1; next } /^\[/ { f = 0 }
         f && $1 == "lto" { lto = $3 } f && $1 == "codegen-units" { cu = $3 }
         END { gsub(/"/, "", lto); print (lto == "" ? "default" : lto) ", " (cu == "" ? "default" : cu) }' "$1"
}

{
    echo "# Load benchmark results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/load.sh$([ "$QUICK" = 1 ] && echo ' --quick')\`."
    echo "Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)."
    echo "Runs on: $(machine_kind); the hypervisor's steal during the measurements: $STEAL_PCT% of the CPUs' time (time the host ran something else while they were ready)."
    echo "Servers pinned to CPU $SERVER_CPU, SIPp to CPU $SIPP_CPU${NICE[*]:+, both at ${NICE[*]}}, UDP on 127.0.0.1, SIPp's built-in \`uac\` (INVITE, 200, ACK, BYE, 200)."
    echo "Versions: parrot ${PARROT_LABEL:-$PARROT_REV}${PARROT_BIN:+ ($PARROT_BIN)} (\`answer\` example, RUST_LOG=warn);" \
        "$(kamailio -v 2>/dev/null | awk '/^version:/ { print $2, $3; exit }') (tm stateful UAS, $KAM_CHILDREN UDP children, -m $KAM_SHM_MB -M $KAM_PKG_MB);" \
        "rsipstack $(awk '/^name = "rsipstack"/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$HERE/rsipstack-uas/Cargo.lock" 2>/dev/null);" \
        "$(sipp -v 2>/dev/null | awk '/SIPp v/ { print $1, $2; exit }')."
    pgo_note=""
    [ "$PGO" = 0 ] || pgo_note=", profile-guided"
    parrot_note=$pgo_note
    [ -z "${PARROT_BIN:-}" ] || parrot_note=" (PARROT_BIN: as it was built)"
    echo "Release profiles (lto, codegen-units): parrot $(release_profile "$ROOT/Cargo.toml")$parrot_note; rsipstack UAS $(release_profile "$HERE/rsipstack-uas/Cargo.toml")$pgo_note; Kamailio: Debian's build."
    trained="each Rust server"
    [ -z "${PARROT_BIN:-}" ] || trained="the rsipstack UAS (parrot: PARROT_BIN)"
    [ "$PGO" = 0 ] || echo "Profile-guided builds (bench/pgo.sh): $trained built instrumented, trained with 20000 calls of SIPp's built-in uac at 2000/s on CPU $SERVER_CPU (rsipstack once on each of its runtimes, the profiles merged), and built again with the profile; the same training for both."
    echo "Messages per call: Kamailio 5 (INVITE, 200, ACK, BYE, 200); rsipstack 6 (+100 Trying); parrot 5 (the answer example rings only with a ring delay; it has none here)."
    case " $CPU_SERVERS " in *" kamailio-8 "* | *" rsipstack-ct "*)
        echo "CPU phase only: kamailio-8 is Kamailio with its default 8 UDP children (kamailio: $KAM_CHILDREN), rsipstack-ct is rsipstack on tokio's current-thread runtime (rsipstack: ${RSUAS_RUNTIME:-multi-thread}); each CPU target is taken against the cheaper configuration of its reference." ;;
    esac
    case " $CPU_SERVERS " in *" parrot-fixed "*)
        echo "CPU phase only: parrot-fixed is bench/src/bin/fixed-answer.rs, parrot answering each INVITE with one fixed SDP made at start, as the rsipstack UAS and Kamailio's script do (the answer example parses each offer, negotiates G.711, writes its answer and gives every call a session timer); built as parrot is. The targets are taken on the answer example." ;;
    esac
    case " $CPU_SERVERS " in *" floor "*)
        echo "CPU phase only: floor is bench/floor-uas, which copies a request's Via, From, To, Call-ID and CSeq into a 200 and does nothing else (no transaction, no dialog, no validation); its CPU per call is the kernel's side of a call, the least any server pays here." ;;
    esac
    case " $CPU_SERVERS " in *" floor-parse "*)
        echo "CPU phase only: floor-parse is the floor parsing each request first with parrot's parser (floor-uas --parse: a copy of the datagram, parsed and validated whole, as parrot's transport does; a plain release build): the least a server that validates as parrot does pays here." ;;
    esac
    echo "Each measurement runs against a freshly started server, the three servers taking turns; \"other load\" is what the rest of the machine used meanwhile (% of one CPU; includes the kernel's softirq work for the loopback traffic)."
} | tee -a "$REPORT"

out ""
out "## CPU time per call"
out ""
out "Server CPU time (on-CPU nanoseconds from /proc/<pid>/task/<tid>/schedstat, summed over all threads and processes; utime+stime clock ticks for a run during which one of them ended) over a run / its successful calls; $CPU_REPEAT runs of $CPU_SECONDS s of calls per rate and server, taking turns: median and range. Counts are summed over the runs; other load is the highest of the runs. Wake-ups/call: the times the server's threads were put on a CPU over a run (schedstat's third field) / its successful calls, median of the runs; below 1 where one wake-up serves several calls of one of SIPp's bursts."
out ""
out "| rate (calls/s) | server | successful | failed | retransmissions | CPU/call (µs), median | range (µs) | vs parrot | SIPp CPU | other load | wake-ups/call |"
out "|---|---|---|---|---|---|---|---|---|---|---|"
for rate in $CPU_RATES; do
    for s in $CPU_SERVERS; do
        out "$(fmt_rate_row "$rate" "$s" "${CPU_OK[$s:$rate]:--}" "${CPU_FAIL[$s:$rate]:--}" \
            "${CPU_RETRANS[$s:$rate]:--}" "${CPU_US[$s:$rate]:--}" "${CPU_RANGE[$s:$rate]:--}" \
            "$(ratio "${CPU_US[$s:$rate]:-}" "${CPU_US[parrot:$rate]:-}")") ${CPU_SIPP[$s:$rate]:--}% | ${CPU_OTHER[$s:$rate]:--}% | ${CPU_WAKES[$s:$rate]:--} |"
    done
done

# cheaper REF RATE: the configuration of reference REF (kamailio,
# rsipstack) with the lower median CPU per call at RATE, in CHEAPER_NAME,
# and that median in CHEAPER_US (empty when neither ran).
cheaper() {
    local alt=${CONFIG_OF[$1]:-}
    CHEAPER_NAME=$1 CHEAPER_US=${CPU_US[$1:$2]:-}
    local ac=${CPU_US[$alt:$2]:-}
    if [ -n "$ac" ] && [ "$ac" != "-" ] &&
        { [ -z "$CHEAPER_US" ] || [ "$CHEAPER_US" = "-" ] || awk "BEGIN { exit !($ac < $CHEAPER_US) }"; }; then
        CHEAPER_NAME=$alt CHEAPER_US=$ac
    fi
}

# Each server's own work per call: its CPU per call less the floor's.
if [ -n "${CPU_US[floor:1000]:-}${CPU_US[floor:500]:-}${CPU_US[floor:2000]:-}" ]; then
    out ""
    out "## CPU time per call above the floor"
    out ""
    out "Median CPU per call less the floor's median at the same rate: the work of the server itself, without the kernel's side of the call that every server pays (not a target: the Targets section compares whole CPU per call). Each reference at its cheaper configuration."
    out ""
    out "| rate (calls/s) | floor (µs) | parrot above it (µs) | reference | reference above it (µs) | parrot vs reference |"
    out "|---|---|---|---|---|---|"
    above() { awk -v a="$1" -v f="$2" 'BEGIN { if (a == "" || a == "-" || f == "" || f == "-") print "-"; else printf "%.1f", a - f }'; }
    for rate in $CPU_RATES; do
        fl=${CPU_US[floor:$rate]:-}
        [ -n "$fl" ] && [ "$fl" != "-" ] || continue
        pa=$(above "${CPU_US[parrot:$rate]:-}" "$fl")
        for rs in kamailio rsipstack; do
            cheaper "$rs" "$rate"
            rs=$CHEAPER_NAME rc=$CHEAPER_US
            [ -n "$rc" ] && [ "$rc" != "-" ] || continue
            ra=$(above "$rc" "$fl")
            out "| $rate | $fl | $pa | $rs | $ra | $(awk -v p="$pa" -v r="$ra" 'BEGIN { if (p == "-" || r == "-" || r <= 0) print "-"; else printf "%.2f×", p / r }') |"
        done
    done
fi

# What parrot's parse costs at the least, and the rest of parrot's work.
if [ -n "${CPU_US[floor-parse:1000]:-}${CPU_US[floor-parse:500]:-}${CPU_US[floor-parse:2000]:-}" ]; then
    out ""
    out "floor-parse less the floor: what parsing and validating the requests as parrot does costs at the least; parrot less floor-parse: the rest of its work (transactions, dialogs, sessions, the handler, the responses, the runtime)."
    out ""
    out "| rate (calls/s) | floor (µs) | floor-parse (µs) | the parse (µs) | parrot (µs) | parrot less floor-parse (µs) |"
    out "|---|---|---|---|---|---|"
    for rate in $CPU_RATES; do
        fl=${CPU_US[floor:$rate]:-} fp=${CPU_US[floor-parse:$rate]:-} pa=${CPU_US[parrot:$rate]:-}
        [ -n "$fl" ] && [ "$fl" != "-" ] && [ -n "$fp" ] && [ "$fp" != "-" ] || continue
        out "| $rate | $fl | $fp | $(above "$fp" "$fl") | ${pa:--} | $(above "$pa" "$fp") |"
    done
fi

# parrot at the references' application work (a fixed SDP answer).
if [ -n "${CPU_US[parrot-fixed:1000]:-}${CPU_US[parrot-fixed:500]:-}${CPU_US[parrot-fixed:2000]:-}" ]; then
    out ""
    out "## CPU time per call at the references' application work"
    out ""
    out "parrot-fixed answers each INVITE with one fixed SDP, as the rsipstack UAS and Kamailio's script do; parrot (the answer example) parses each offer, negotiates and writes its answer, and gives every call a session timer. Medians as above, each reference at its cheaper configuration (not a target: the targets are taken on the answer example)."
    out ""
    out "| rate (calls/s) | parrot (µs) | parrot-fixed (µs) | reference | reference (µs) | parrot vs reference | parrot-fixed vs reference |"
    out "|---|---|---|---|---|---|---|"
    for rate in $CPU_RATES; do
        fx=${CPU_US[parrot-fixed:$rate]:-}
        [ -n "$fx" ] && [ "$fx" != "-" ] || continue
        for rs in kamailio rsipstack; do
            cheaper "$rs" "$rate"
            [ -n "$CHEAPER_US" ] && [ "$CHEAPER_US" != "-" ] || continue
            out "| $rate | ${CPU_US[parrot:$rate]:--} | $fx | $CHEAPER_NAME | $CHEAPER_US | $(ratio "${CPU_US[parrot:$rate]:-}" "$CHEAPER_US") | $(ratio "$fx" "$CHEAPER_US") |"
        done
    done
fi

out ""
out "## Call-setup latency at $LAT_RATE calls/s"
out ""
out "INVITE sent → 200 received, $((LAT_RATE * LAT_SECONDS)) calls. \`rtd\`: SIPp's response-time trace (-trace_rtt; whole milliseconds, a 0.2 ms answer that straddles a millisecond tick reads 1). \`µs\`: from SIPp's message-log timestamps (-trace_msg): SIPp's view, which includes SIPp's own queueing and the writing of its log. \`wire\`: from a capture of the run on the loopback device (tcpdump, the kernel's timestamps; bench/src/bin/wirelatency.rs): the INVITE reaching the server's side to the server's 200 leaving it, the server's own setup time."
out ""
out "| server | p50 rtd (ms) | p99 rtd (ms) | max rtd (ms) | p50 (µs) | p99 (µs) | max (µs) | wire p50 (µs) | wire p99 (µs) | wire max (µs) | wire p99 vs parrot | calls |"
out "|---|---|---|---|---|---|---|---|---|---|---|---|"
for s in "${NAMES[@]}"; do
    read -r r50 r99 rmax _ <<<"${LAT_RTD[$s]:-- - - 0}"
    read -r u50 u99 umax _ <<<"${LAT_US[$s]:-- - - 0}"
    read -r w50 w99 wmax wn <<<"${LAT_WIRE[$s]:-- - - 0}"
    read -r _ pw99 _ _ <<<"${LAT_WIRE[parrot]:-- - - 0}"
    wnote=""
    [ "${wn:-0}" = 0 ] || wnote=", wire: $wn answered INVITEs captured, ${LAT_DROPS[$s]:--} packets dropped"
    out "| $s | $r50 | $r99 | $rmax | $u50 | $u99 | $umax | $w50 | $w99 | $wmax | $(ratio "$w99" "$pw99") | ${LAT_N[$s]:--}$wnote |"
done

out ""
out "## Highest sustained rate on one core"
out ""
out "Server on CPU $SERVER_CPU alone; rates $STEP_RATES calls/s, $STEP_SECONDS s each, until failed (or unfinished) calls or retransmissions exceed 0.1% of the calls. Steps: rate:successful:failed:retransmissions:SIPp CPU %:other load %."
out ""
out "| server | highest passing rate (calls/s) | vs parrot | first failing step | steps |"
out "|---|---|---|---|---|"
for s in "${NAMES[@]}"; do
    out "| $s | ${STEP_PASS[$s]:--} | $(ratio "${STEP_PASS[$s]:-}" "${STEP_PASS[parrot]:-}") | ${STEP_WHY[$s]:--} | ${STEP_LOG[$s]:-} |"
done

out ""
out "## Memory per established dialog"
out ""
out "Fresh server; N calls set up at $HOLD_RATE calls/s and held (uac with a long pause before BYE). RSS: VmRSS summed over the server's processes; PSS: proportional set size (shares Kamailio's shared memory once). Per dialog: (held − idle) / the calls actually held (SIPp's CurrentCall, in case a server refused some). First sample ${HOLD_SETTLE} s after the last call was set up (INVITE server transactions still alive), second $HOLD_LATE s later (counts up to $HOLD_LATE_MAX)."
out ""
out "| server | dialogs | idle RSS (kB) | RSS held (kB) | RSS/dialog (B) | PSS/dialog (B) | RSS +${HOLD_LATE}s (kB) | RSS/dialog +${HOLD_LATE}s (B) | vs parrot | SIPp |"
out "|---|---|---|---|---|---|---|---|---|---|"
per_dialog() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a == "-" || a == "" || b == "" || n == 0) print "-"; else printf "%.0f", (a - b) * 1024 / n }'; }
for n in $HOLD_COUNTS; do
    for s in "${NAMES[@]}"; do
        if [ -n "${MEM_BAD[$s:$n]:-}" ] && [ -z "${MEM_RSS1[$s:$n]:-}" ]; then
            out "| $s | $n | - | - | - | - | - | - | - | ${MEM_BAD[$s:$n]} |"
            continue
        fi
        d1=$(per_dialog "${MEM_RSS1[$s:$n]:-}" "${MEM_IDLE[$s:$n]:-}" "${MEM_N[$s:$n]:-$n}")
        dp=$(per_dialog "${MEM_PSS1[$s:$n]:-}" "${MEM_IDLE_PSS[$s:$n]:-}" "${MEM_N[$s:$n]:-$n}")
        d2=$(per_dialog "${MEM_RSS2[$s:$n]:--}" "${MEM_IDLE[$s:$n]:-}" "${MEM_N[$s:$n]:-$n}")
        pd1=$(per_dialog "${MEM_RSS1[parrot:$n]:-}" "${MEM_IDLE[parrot:$n]:-}" "${MEM_N[parrot:$n]:-$n}")
        out "| $s | $n | ${MEM_IDLE[$s:$n]:--} | ${MEM_RSS1[$s:$n]:--} | $d1 | $dp | ${MEM_RSS2[$s:$n]:--} | $d2 | $(ratio "$d1" "$pd1") | ${MEM_HELD[$s:$n]:-}${MEM_BAD[$s:$n]:+; ${MEM_BAD[$s:$n]}} |"
    done
done

if [ -s "$PARSER_TXT" ]; then
    out ""
    out "## Parser (criterion, parse + transaction fields)"
    out ""
    out "Median time per message; \`cargo bench -p bench --features compare --bench parse\` (short settings). Raw output: \`$(basename "$OUT")/parser-raw.log\`."
    out ""
    out "| message | parrot | rsip | ezk-sip-types | rsip vs parrot | ezk vs parrot |"
    out "|---|---|---|---|---|---|"
    for g in $(awk '{ print $1 }' "$PARSER_TXT" | awk '!seen[$0]++'); do
        pv=$(awk -v g="$g" '$1 == g && $2 == "parrot" { print $3 }' "$PARSER_TXT")
        rv=$(awk -v g="$g" '$1 == g && $2 == "rsip" { print $3 }' "$PARSER_TXT")
        ev=$(awk -v g="$g" '$1 == g && $2 == "ezk" { print $3 }' "$PARSER_TXT")
        fmt_ns() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1e6) printf "%.2f ms", v / 1e6; else if (v >= 1e3) printf "%.2f µs", v / 1e3; else printf "%.0f ns", v }'; }
        out "| $g | $(fmt_ns "$pv") | $(fmt_ns "$rv") | $(fmt_ns "$ev") | $(ratio "$rv" "$pv") | $(ratio "$ev" "$pv") |"
    done
fi

# Targets.
target_row() { out "| $1 | $2 | $3 | $4 |"; }
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"MISSED\" }"; }
MISSED=0
if [ "$has_parrot" = 1 ]; then
    out ""
    out "## Targets"
    out ""
    out "| target | parrot | reference | verdict |"
    out "|---|---|---|---|"
    tr=1000
    pc=${CPU_US[parrot:$tr]:-}
    if [ -n "$pc" ] && [ "$pc" != "-" ]; then
        for ref in kamailio:0.5 rsipstack:0.3; do
            f=${ref##*:}
            cheaper "${ref%%:*}" "$tr"
            rs=$CHEAPER_NAME rc=$CHEAPER_US
            if [ -n "$rc" ] && [ "$rc" != "-" ]; then
                v=$(verdict "$pc <= $f * $rc")
                [ "$v" = met ] || MISSED=1
                target_row "CPU/call at $tr/s ≤ ${f}× $rs" "$pc µs" "$rs $rc µs (${f}× = $(awk -v a="$rc" -v f="$f" 'BEGIN { printf "%.1f", a * f }') µs; parrot is $(ratio "$pc" "$rc") of it)" "$v"
            fi
        done
    fi
    if [ -n "${STEP_PASS[kamailio]:-}" ] && [ -n "${STEP_PASS[parrot]:-}" ]; then
        v=$(verdict "${STEP_PASS[parrot]} >= 1.5 * ${STEP_PASS[kamailio]}")
        [ "$v" = met ] || MISSED=1
        target_row "one-core sustained rate ≥ 1.5× Kamailio's" "${STEP_PASS[parrot]}/s" "kamailio ${STEP_PASS[kamailio]}/s" "$v"
    fi
    read -r _ pu99 _ _ <<<"${LAT_US[parrot]:-- - - 0}"
    read -r _ pr99 _ _ <<<"${LAT_RTD[parrot]:-- - - 0}"
    read -r _ pw99 _ _ <<<"${LAT_WIRE[parrot]:-- - - 0}"
    # The server's own setup time (on the wire) when the capture worked,
    # else SIPp's view of it; the row shows both.
    p99=$pw99
    [ "$p99" != "-" ] || p99=$pu99
    if [ "$p99" != "-" ]; then
        v=$(verdict "$p99 <= 1000")
        [ "$v" = met ] || MISSED=1
        if [ "$pw99" != "-" ]; then
            seen="$pw99 µs on the wire (SIPp's view: $pu99 µs, rtd p99 $pr99 ms)"
        else
            seen="$pu99 µs in SIPp's view, no capture (rtd p99 $pr99 ms)"
        fi
        target_row "p99 call setup ≤ 1 ms at $LAT_RATE/s" "$seen" "-" "$v"
    fi
    for n in $HOLD_COUNTS; do
        d1=$(per_dialog "${MEM_RSS1[parrot:$n]:-}" "${MEM_IDLE[parrot:$n]:-}" "${MEM_N[parrot:$n]:-$n}")
        d2=$(per_dialog "${MEM_RSS2[parrot:$n]:--}" "${MEM_IDLE[parrot:$n]:-}" "${MEM_N[parrot:$n]:-$n}")
        if [ "$d1" != "-" ]; then
            v=$(verdict "$d1 <= 2048")
            [ "$v" = met ] || MISSED=1
            target_row "≤ 2 KB RSS per established dialog ($n)" "$d1 B (+${HOLD_LATE}s: $d2 B)" "-" "$v"
        fi
    done
fi

if [ "$has_parrot" = 1 ] && { [ "$PROFILE" = 1 ] || { [ "$PROFILE" = auto ] && [ "$MISSED" = 1 ]; }; }; then
    run_profile
    if [ -s "$PROFILE_TXT" ]; then
        out ""
        out "## Profile: parrot \`answer\` at $LAT_RATE calls/s"
        out ""
        out "\`perf record -F 1999 -g\` on the server, self time by symbol (≥ 0.8%); with children: \`$(basename "$OUT")/parrot/profile-children.txt\`."
        out ""
        out '```'
        while IFS= read -r line; do out "$line"; done <"$PROFILE_TXT"
        out '```'
    fi
fi

log "report: $REPORT"
if [ "$QUICK" = 0 ] && [ "$CUSTOM" = 0 ] && [ "$SERVERS" = "parrot kamailio rsipstack" ]; then
    # Hand-written notes below the marker line in the old file are kept.
    marker='<!-- notes below this line are kept by bench/load.sh -->'
    {
        cat "$REPORT"
        if grep -qF -- "$marker" "$HERE/PERFORMANCE.md" 2>/dev/null; then
            echo
            awk -v m="$marker" 'f || $0 == m { f = 1; print }' "$HERE/PERFORMANCE.md"
        fi
    } >"$OUT/PERFORMANCE.bench.md"
    mv "$OUT/PERFORMANCE.bench.md" "$HERE/PERFORMANCE.md"
    log "copied to bench/PERFORMANCE.md"
fi
log "done in ${SECONDS}s"
