#!/usr/bin/env bash
# CPU per call over TLS against UDP, in the same run: SIPp's built-in `uac`
# calls (INVITE, 200, ACK, BYE, 200) relayed by Kamailio 5.6 to parrot,
# either over UDP or over one persistent TLS connection (a proxy in front
# of parrot), on loopback. The issue's target: TLS at most 1.3x UDP.
#
#   arm udp: SIPp -> Kamailio udp:127.0.0.1:5285 -> parrot udp:127.0.0.1:5275
#   arm tls: SIPp -> Kamailio udp:127.0.0.1:5286 -> parrot tls:127.0.0.1:5276
#
# parrot is the `answer` example (release build) with --listen and --tls,
# pinned to CPU 1. Kamailio (a generated config in OUT/kamailio: tm, rr
# with double Record-Route, tls.so with OpenSSL, KAM_CHILDREN UDP workers)
# and SIPp are pinned to CPU 0. Kamailio picks the hop by the port the
# request came to (its $Rp); the ACK and BYE of SIPp's uac come without
# Route headers and go to the same hop. A CA and a P-256 server
# certificate are made with openssl at start.
#
# One parrot and one Kamailio serve the whole run, so a single TLS
# connection (Kamailio's, opened by the first call) carries every TLS
# call: one call over the TLS hop before every run, outside the measured
# window, keeps it from idling out (parrot closes a stream after 180 s
# without traffic; with QUIET_WAIT above about 100 s it may, and is then
# reopened by that call, outside the windows), and the script checks that
# no run saw it change. After a warm-up (WARMUP calls per arm, then
# SETTLE s), the arms take turns, REPEAT times each (udp, tls, udp, tls,
# ...). A run: RATE calls/s up to CALLS calls, then SETTLE s of quiet, so
# that the timers the calls started (Timer L, Timer J: 32 s) fire inside
# the run's window; parrot's utime+stime (/proc/<pid>/stat, all threads)
# over the window / the successful calls.
# Reported per arm: the median and the runs, Kamailio's CPU per call
# beside it, and the ratio TLS/UDP of the medians.
#
# usage: bench/tls-calls.sh [--no-install] [--out DIR]
#   --out DIR     where logs and results go (default: target/tls-calls-bench/<UTC time>)
# Knobs (environment): RATE (500 calls/s), CALLS (15000 per run), REPEAT
# (5 runs per arm), SETTLE (36 s), WARMUP (1000 calls per arm),
# KAM_CHILDREN (4), BENCH_NICE (-10; 0: off), QUIET_MAX (20: % of a CPU the
# rest of the machine may use before a run starts), QUIET_WAIT (10 s),
# PARROT_BIN (a build of a server with the `answer` CLI instead of the
# workspace's).
# Every SIPp run is bounded (-m, -timeout, then a kill by pid); every
# process the script starts is killed by pid on exit. Traffic goes to
# 127.0.0.1 only. Exit status 1 when a call failed; the target is reported,
# not asserted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

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
RATE=${RATE:-500}
CALLS=${CALLS:-15000}
REPEAT=${REPEAT:-5}
SETTLE=${SETTLE:-36}
WARMUP=${WARMUP:-1000}
KAM_CHILDREN=${KAM_CHILDREN:-4}
QUIET_MAX=${QUIET_MAX:-20}
QUIET_WAIT=${QUIET_WAIT:-10}
TARGET=1.3
SERVER_CPU=1
GEN_CPU=0
HOST=127.0.0.1
P_UDP=5275 # parrot
P_TLS=5276
K_UDP=5285 # Kamailio, arm udp
K_TLS=5286 # Kamailio, arm tls
K_TLS_LISTEN=5287 # Kamailio's own TLS socket (it sends from it)
NEXT_SIPP_PORT=6300
ARMS="udp tls"
declare -A ARM_PORT=([udp]=$K_UDP [tls]=$K_TLS)

open_output tls-calls tls-calls-bench report.md
PATH=$PATH:/usr/sbin
if [ "$INSTALL" = 1 ]; then
    install_missing sipp:sip-tester kamailio:kamailio openssl:openssl taskset:util-linux \
        pgrep:procps ss:iproute2
    ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 ||
        { $SUDO apt-get update; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio-tls-modules; }
fi
require_tools sipp kamailio openssl taskset pgrep ss cargo
TLS_SO=(/usr/lib/*/kamailio/modules/tls.so)
[ -f "${TLS_SO[0]}" ] || { echo "missing: Kamailio's tls.so (package kamailio-tls-modules)" >&2; exit 1; }
KAM_MODULES=$(dirname "${TLS_SO[0]}")
set_nice
if [ "$(nproc)" -lt 2 ]; then
    log "only one CPU: parrot, Kamailio and SIPp share CPU 0"
    SERVER_CPU=0
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for p in $P_UDP $K_UDP $K_TLS; do require_free_port "$p"; done
for p in $P_UDP $P_TLS $K_TLS_LISTEN; do
    if [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
        echo "TCP port $p is already in use" >&2
        exit 1
    fi
done

PARROT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- parrot parrot-macros examples 2>/dev/null || PARROT_REV+="+changes"
if [ -n "${PARROT_BIN:-}" ]; then
    log "parrot: using PARROT_BIN=$PARROT_BIN (not building the workspace)"
    ANSWER_BIN=$PARROT_BIN
else
    log "building parrot's answer example (release)"
    (cd "$ROOT" && cargo build --release -p examples --bin answer) >"$OUT/build-parrot.log" 2>&1 ||
        { tail -30 "$OUT/build-parrot.log" >&2; exit 1; }
    ANSWER_BIN="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/answer"
fi
[ -x "$ANSWER_BIN" ] || { echo "no executable $ANSWER_BIN" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Certificates and Kamailio's configuration.
PKI="$OUT/pki"
make_pki "$PKI"

KAM_DIR="$OUT/kamailio"
mkdir -p "$KAM_DIR/run"
# Kamailio's own TLS listener presents the same certificate; as a client
# (to parrot) it verifies nothing.
kamailio_tls_cfg "$KAM_DIR/tls.cfg" "$PKI"
cat >"$KAM_DIR/kamailio.cfg" <<CFG
#!KAMAILIO
# Generated by bench/tls-calls.sh: relays SIPp's calls to parrot over UDP
# (requests to udp:$HOST:$K_UDP) or over TLS (to udp:$HOST:$K_TLS).
debug=1
log_stderror=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
children=$KAM_CHILDREN
tcp_children=2
enable_tls=yes
listen=udp:$HOST:$K_UDP
listen=udp:$HOST:$K_TLS
listen=tls:$HOST:$K_TLS_LISTEN
# The one connection to parrot is kept through the whole run (parrot
# closes a stream after 180 s without traffic).
tcp_connection_lifetime=3600
mpath="$KAM_MODULES/"
loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
modparam("tls", "config", "$KAM_DIR/tls.cfg")
# Two Record-Route entries when a request changes transport (UDP in, TLS
# out), so that each side routes back over its own.
modparam("rr", "enable_double_rr", 1)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("OPTIONS") && !has_totag()) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            route(RELAY);
        }
        exit;
    }
    if (has_totag()) {
        # In-dialog: follow the Route set when the UA sent one back.
        if (loose_route()) {
            route(RELAY);
        }
        # SIPp's built-in uac sends its ACK and BYE to Kamailio without
        # Route headers: they go to the same hop as the INVITE.
    } else if (is_method("INVITE")) {
        record_route();
    }
    if (\$Rp == $K_TLS) {
        \$du = "sip:$HOST:$P_TLS;transport=tls";
    } else {
        \$du = "sip:$HOST:$P_UDP";
    }
    route(RELAY);
}

route[RELAY] {
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
CFG

# ---------------------------------------------------------------------------
# Processes and their CPU time.
PARROT_PID=""
KAM_PID=""
# tree_ticks PID: utime+stime of PID and its children (Kamailio's workers).
tree_ticks() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
        total=$((total + $(pid_ticks "$p")))
    done
    echo "$total"
}
# CPU ticks of the processes under test (parrot and Kamailio), which
# wait_quiet (bench/lib.sh) leaves out of "the rest of the machine".
ours_ticks() { echo $(($(pid_ticks "$PARROT_PID") + $(tree_ticks "$KAM_PID"))); }

# probe ADDR PORT: one call (uac) to ADDR:PORT, bounded to 3 s.
probe() {
    local port=$NEXT_SIPP_PORT
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    timeout -k 1 6 sipp "$1:$2" -sn uac -t u1 -i "$HOST" -p "$port" \
        -m 1 -r 1 -timeout 3s -timeout_error -recv_timeout 2000 -nostdin \
        >/dev/null 2>&1
}
# wait_up NAME PID LOG PORT: until a call to PORT succeeds (20 tries).
wait_up() {
    local _
    for _ in $(seq 1 20); do
        alive "$2" || { tail -20 "$3" >&2; echo "$1 exited during start-up" >&2; exit 1; }
        probe "$HOST" "$4" && return 0
        sleep 0.5
    done
    tail -20 "$3" >&2
    echo "$1: no call through $HOST:$4" >&2
    exit 1
}

# The client ends (Kamailio's) of the established connections to parrot's
# TLS port, one "address:port" a line.
tls_connections() {
    ss -Htn state established "( dport = :$P_TLS )" 2>/dev/null | awk '{ print $(NF - 1) }' | sort
}

# ---------------------------------------------------------------------------
# SIPp runs.

# run_calls ARM LABEL CALLS SETTLE: SIPp's uac at RATE through Kamailio's
# port for ARM, bounded by -m CALLS and -timeout (CALLS/RATE + 30 s),
# killed 10 s after that; then SETTLE s. Sets RUN_OK, RUN_FAILED,
# RUN_UNFINISHED, RUN_RETRANS, RUN_EXIT, RUN_P_TICKS, RUN_K_TICKS,
# RUN_OTHER_PCT, RUN_ELAPSED.
run_calls() {
    local arm=$1 label=$2 calls=$3 settle=$4
    local dir="$OUT/runs/$label" port=$NEXT_SIPP_PORT bound pid
    local p0 pm p1 k0 k1 m0 m1 start sipp_ticks
    NEXT_SIPP_PORT=$((NEXT_SIPP_PORT + 1))
    bound=$((calls / RATE + 30))
    rm -rf "$dir"
    mkdir -p "$dir"
    p0=$(pid_ticks "$PARROT_PID")
    k0=$(tree_ticks "$KAM_PID")
    m0=$(machine_busy_ticks)
    start=$(date +%s.%N)
    (cd "$dir" && exec "${NICE[@]}" taskset -c "$GEN_CPU" sipp "$HOST:${ARM_PORT[$arm]}" \
        -sn uac -t u1 -i "$HOST" -p "$port" -m "$calls" -r "$RATE" -rp 1000 \
        -l 5000 -timeout "${bound}s" -timeout_error -recv_timeout 10000 \
        -max_socket 1000 -buff_size 4194304 -nostdin -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file errors.log >stdout.log 2>stderr.log) &
    pid=$!
    PIDS+=("$pid")
    watch_bounded "$pid" $((bound + 10)) "$label: SIPp"
    sipp_ticks=$WATCHED_TICKS
    RUN_EXIT=$WATCHED_EXIT
    pm=$(pid_ticks "$PARROT_PID")
    sleep "$settle"
    p1=$(pid_ticks "$PARROT_PID")
    k1=$(tree_ticks "$KAM_PID")
    m1=$(machine_busy_ticks)
    RUN_ELAPSED=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    RUN_P_TICKS=$((p1 - p0))
    RUN_K_TICKS=$((k1 - k0))
    RUN_OK=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    RUN_FAILED=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    RUN_RETRANS=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
    RUN_UNFINISHED=$((calls - RUN_OK - RUN_FAILED))
    [ "$RUN_UNFINISHED" -ge 0 ] || RUN_UNFINISHED=0
    # Everything else the machine did meanwhile, in % of one CPU (includes
    # the kernel's softirq work for the loopback traffic).
    RUN_OTHER_PCT=$(awk -v m="$((m1 - m0))" -v t="$((RUN_P_TICKS + RUN_K_TICKS + sipp_ticks))" \
        -v hz="$CLK_TCK" -v e="$RUN_ELAPSED" \
        'BEGIN { o = (e > 0) ? (m - t) / hz / e * 100 : 0; printf "%.0f", (o > 0) ? o : 0 }')
    log "$(printf '%-12s ok %s failed %s unfinished %s retrans %s (sipp exit %s), parrot %s ticks (%s after the calls), kamailio %s ticks, other %s%%, %ss' \
        "$label" "$RUN_OK" "$RUN_FAILED" "$RUN_UNFINISHED" "$RUN_RETRANS" "$RUN_EXIT" \
        "$RUN_P_TICKS" "$((p1 - pm))" "$RUN_K_TICKS" "$RUN_OTHER_PCT" "$RUN_ELAPSED")"
}

# ---------------------------------------------------------------------------
# Start parrot and Kamailio, open the TLS connection, warm up.
log "starting parrot (CPU $SERVER_CPU) and Kamailio (CPU $GEN_CPU, $KAM_CHILDREN UDP workers)"
RUST_LOG=${SERVER_LOG:-warn} "${NICE[@]}" taskset -c "$SERVER_CPU" "$ANSWER_BIN" \
    --listen "$HOST:$P_UDP" --tls "$HOST:$P_TLS" --cert "$PKI/cert.pem" --key "$PKI/key.pem" \
    >"$OUT/parrot.log" 2>&1 &
PARROT_PID=$!
PIDS+=("$PARROT_PID")
wait_up parrot "$PARROT_PID" "$OUT/parrot.log" "$P_UDP"
"${NICE[@]}" taskset -c "$GEN_CPU" kamailio -DD -E -f "$KAM_DIR/kamailio.cfg" \
    -m 256 -M 16 -Y "$KAM_DIR/run" -w "$KAM_DIR/run" >"$OUT/kamailio.log" 2>&1 &
KAM_PID=$!
PIDS+=("$KAM_PID")
wait_up kamailio "$KAM_PID" "$OUT/kamailio.log" "$K_UDP"
probe "$HOST" "$K_TLS" || { tail -20 "$OUT/kamailio.log" >&2; echo "no call through Kamailio over TLS" >&2; exit 1; }
TLS_CONN=$(tls_connections)
[ "$(printf '%s\n' "$TLS_CONN" | grep -c .)" = 1 ] ||
    { echo "expected one TLS connection from Kamailio to parrot, found: ${TLS_CONN:-none}" >&2; exit 1; }
log "TLS connection to parrot: $TLS_CONN"

if [ "$WARMUP" -gt 0 ]; then
    log "warm-up: $WARMUP calls per arm, then ${SETTLE}s"
    for arm in $ARMS; do
        run_calls "$arm" "warmup-$arm" "$WARMUP" 0
        [ "$RUN_OK" = "$WARMUP" ] || { log "warm-up over $arm: $RUN_OK/$WARMUP calls ok"; exit 1; }
    done
    sleep "$SETTLE"
fi

# ---------------------------------------------------------------------------
# The runs: the arms take turns.
declare -A RUNS_US RUNS_K_US RUNS_SHOWN OK FAILED RETRANS
for arm in $ARMS; do
    RUNS_US[$arm]=""
    RUNS_SHOWN[$arm]=""
    RUNS_K_US[$arm]=""
    OK[$arm]=0
    FAILED[$arm]=0
    RETRANS[$arm]=0
done
PAIRS=""
FIRST_CONN=$TLS_CONN
CONN_CHANGED="" # changed during a measured run: a handshake in its window
CONN_REOPENED="" # reopened between runs (outside the windows)
log "$REPEAT runs per arm, $CALLS calls at $RATE/s each, then ${SETTLE}s"
for rep in $(seq 1 "$REPEAT"); do
    for arm in $ARMS; do
        alive "$PARROT_PID" || { tail -20 "$OUT/parrot.log" >&2; echo "parrot exited" >&2; exit 1; }
        alive "$KAM_PID" || { tail -20 "$OUT/kamailio.log" >&2; echo "kamailio exited" >&2; exit 1; }
        wait_quiet ours_ticks
        # One call over the TLS hop before every run, outside its window:
        # the connection never idles long enough for parrot to close it
        # (180 s), and a run starts on a connection already open.
        probe "$HOST" "$K_TLS" || log "the call over TLS before $arm-$rep failed"
        now=$(tls_connections)
        if [ "$now" != "$TLS_CONN" ]; then
            CONN_REOPENED+="${CONN_REOPENED:+, }before $arm-$rep"
            TLS_CONN=$now
        fi
        run_calls "$arm" "$arm-$rep" "$CALLS" "$SETTLE"
        OK[$arm]=$((OK[$arm] + RUN_OK))
        FAILED[$arm]=$((FAILED[$arm] + RUN_FAILED + RUN_UNFINISHED))
        RETRANS[$arm]=$((RETRANS[$arm] + RUN_RETRANS))
        us=$(awk -v t="$RUN_P_TICKS" -v hz="$CLK_TCK" -v n="$RUN_OK" 'BEGIN { if (n > 0) printf "%.1f", 1e6 * t / hz / n }')
        kus=$(awk -v t="$RUN_K_TICKS" -v hz="$CLK_TCK" -v n="$RUN_OK" 'BEGIN { if (n > 0) printf "%.1f", 1e6 * t / hz / n }')
        RUNS_US[$arm]+="${us:+$us }"
        RUNS_K_US[$arm]+="${kus:+$kus }"
        RUNS_SHOWN[$arm]+="${RUNS_SHOWN[$arm]:+, }${us:--} ($RUN_OTHER_PCT%)"
        [ "$arm" = udp ] && last_udp=$us
        [ "$arm" = tls ] && [ -n "${last_udp:-}" ] && [ -n "$us" ] &&
            PAIRS+="$(awk -v a="$us" -v b="$last_udp" 'BEGIN { printf "%.2f", a / b }') "
        now=$(tls_connections)
        if [ "$now" != "$TLS_CONN" ]; then
            CONN_CHANGED+="${CONN_CHANGED:+, }during $arm-$rep"
            TLS_CONN=$now
        fi
    done
done

# ---------------------------------------------------------------------------
# Report.
median() { # of the numbers given
    printf '%s\n' "$@" | grep . | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "-"
        else if (NR % 2) printf "%.1f", v[(NR + 1) / 2]
        else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A MED KMED
for arm in $ARMS; do
    # shellcheck disable=SC2086
    MED[$arm]=$(median ${RUNS_US[$arm]})
    # shellcheck disable=SC2086
    KMED[$arm]=$(median ${RUNS_K_US[$arm]})
done
UDP_US=${MED[udp]}
TLS_US=${MED[tls]}
RATIO=$(awk -v a="$TLS_US" -v b="$UDP_US" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }')
VERDICT=$(awk -v r="$RATIO" -v t="$TARGET" 'BEGIN { if (r == "-") print "not measured"; else if (r + 0 <= t + 0) print "met"; else print "missed" }')
TOTAL=$((REPEAT * CALLS))
ALL_OK=1
for arm in $ARMS; do [ "${OK[$arm]}" = "$TOTAL" ] || ALL_OK=0; done
if [ -n "$CONN_CHANGED" ]; then
    CONN_NOTE="The TLS connection to parrot changed $CONN_CHANGED: a handshake is in that run's figure"
elif [ -n "$CONN_REOPENED" ]; then
    CONN_NOTE="The TLS connection to parrot was reopened between runs ($CONN_REOPENED), never during one: each run's TLS calls went over one connection"
else
    CONN_NOTE="One TLS connection ($FIRST_CONN -> $HOST:$P_TLS) carried every TLS call"
    [ "$WARMUP" = 0 ] || CONN_NOTE+=", the warm-up's too"
fi
WARNINGS=$(grep -c ' WARN \| ERROR ' "$OUT/parrot.log" || true)

out "# CPU per call over TLS against UDP ($(date -u '+%F %H:%M UTC'), parrot $PARROT_REV, kamailio $(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }'))"
out ""
out "SIPp's built-in \`uac\` (INVITE, 200, ACK, BYE, 200) over UDP to Kamailio, which relays (tm, record-route) to parrot's \`answer\` over UDP or over TLS; parrot on CPU $SERVER_CPU, Kamailio ($KAM_CHILDREN UDP workers) and SIPp on CPU $GEN_CPU${NICE:+, nice ${BENCH_NICE:--10}}; $RATE calls/s, $CALLS calls a run, each run's window ending ${SETTLE} s after its last call; $REPEAT runs per arm, taking turns. parrot's utime+stime over the window / successful calls: the median, and each run with the other load (what the rest of the machine used meanwhile, in % of one CPU). $CONN_NOTE."
out ""
out "| parrot over | calls ok | failed | SIPp retransmissions | parrot CPU/call (µs) | runs: µs (other load) | Kamailio CPU/call (µs) |"
out "| --- | --- | --- | --- | --- | --- | --- |"
for arm in $ARMS; do
    out "| ${arm^^} | ${OK[$arm]}/$TOTAL | ${FAILED[$arm]} | ${RETRANS[$arm]} | ${MED[$arm]} | ${RUNS_SHOWN[$arm]} | ${KMED[$arm]} |"
done
out ""
out "TLS / UDP: $RATIO (target ≤ $TARGET: $VERDICT); per pair of runs: ${PAIRS% }."
[ "$WARNINGS" = 0 ] || out "parrot logged $WARNINGS warnings or errors (parrot.log), e.g. $(grep -m1 ' WARN \| ERROR ' "$OUT/parrot.log" | sed 's/^[^ ]* *//' | cut -c1-120)."
[ "$ALL_OK" = 1 ] || out "Not every call succeeded: see $OUT/runs/*/errors.log."
log "report: $REPORT"
log "done in ${SECONDS}s"
[ "$ALL_OK" = 1 ]
