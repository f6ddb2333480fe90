# Shell helpers shared by the bench scripts (sourced):
# output directory and log, processes started by a script (killed on exit),
# installs, and the start, stop, CPU time and memory of the server under
# test.

# shellcheck shell=bash

# open_output TAG DIR FILE: sets OUT (target/DIR/<UTC time> unless OUT is
# set) and REPORT (OUT/FILE, emptied), kills the recorded processes on exit.
open_output() {
    LOG_TAG=$1
    OUT=${OUT:-"$ROOT/target/$2/$(date -u +%Y%m%dT%H%M%SZ)"}
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    REPORT="$OUT/$3"
    : >"$REPORT"
    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT TERM
}
log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
# A line of the report: to stdout and to the report file.
out() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# parse_args KNOWN "$@": the options the scripts share. Sets INSTALL (0
# with --no-install), OUT (--out DIR), SERVERS (--servers "A B", each one
# of KNOWN) and, for scripts that set QUICK beforehand, QUICK (--quick).
# --help prints the script's header comment.
parse_args() {
    local known=$1 s
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            --quick)
                [ -n "${QUICK+set}" ] || { echo "unknown argument: $1 (see --help)" >&2; exit 2; }
                QUICK=1
                ;;
            --no-install) INSTALL=0 ;;
            --out) OUT=$2; shift ;;
            --servers) SERVERS=$2; shift ;;
            -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
    for s in $SERVERS; do
        case " $known " in
            *" $s "*) ;;
            *) echo "unknown server: $s ($known)" >&2; exit 2 ;;
        esac
    done
}

# Processes: every pid started is recorded and killed on exit.
PIDS=()
# Running, not a zombie waiting to be reaped.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}
kill_pid_tree() {
    local pid=$1 kids p i
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kids=$(pgrep -P "$pid" 2>/dev/null || true)
    # shellcheck disable=SC2086
    kill -TERM "$pid" $kids 2>/dev/null || true
    for i in $(seq 1 30); do
        alive "$pid" || break
        sleep 0.1
    done
    for p in $pid $kids; do
        if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}
forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill_pid_tree "$p"; done
}

# Every process of the running server: the main one and its children
# (Kamailio's forked workers).
server_pids() {
    echo "$SERVER_PID"
    pgrep -P "$SERVER_PID" 2>/dev/null || true
}
# utime+stime, in clock ticks, summed over the server's processes (each
# process's /proc/<pid>/stat counts all its threads).
server_ticks() {
    local total=0 p line rest
    for p in $(server_pids); do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
# On-CPU time in nanoseconds (/proc/<pid>/task/<tid>/schedstat), summed
# over every thread of the server's processes, into SERVER_NS, and the
# threads read into SERVER_TIDS. Ticks (server_ticks) are 10 ms: at 1000
# calls/s for 6 s one tick is 1.7 µs a call, as much as a target's margin.
# A thread that ends takes its time with it, so a span is measured this
# way only when every thread read at its start is still there at its end
# (server_cpu_ns_since). The same file's third field, the times each
# thread was put on a CPU, summed into SERVER_SLICES: for a server that
# sleeps between SIPp's bursts, its wake-ups.
read_server_cpu() {
    local p t v slices
    SERVER_NS=0
    SERVER_SLICES=0
    SERVER_TIDS=""
    for p in $(server_pids); do
        for t in /proc/"$p"/task/*; do
            read -r v _ slices 2>/dev/null <"$t/schedstat" || continue
            SERVER_NS=$((SERVER_NS + v))
            SERVER_SLICES=$((SERVER_SLICES + ${slices:-0}))
            SERVER_TIDS+=" ${t##*/}"
        done
    done
}
# server_cpu_ns_since NS0 TIDS0 TICKS SLICES0: sets RUN_NS to the server's
# CPU time in ns since the read_server_cpu that gave NS0, TIDS0 and
# SLICES0, and RUN_SLICES to the times its threads were put on a CPU
# since; when a thread of that read has ended, RUN_NS to TICKS (the clock
# ticks over the same span) in ns, RUN_SLICES to empty (not known) and
# RUN_NS_NOTE to say so (empty otherwise).
server_cpu_ns_since() {
    local t
    read_server_cpu
    RUN_NS=$((SERVER_NS - $1))
    RUN_SLICES=$((SERVER_SLICES - $4))
    RUN_NS_NOTE=""
    for t in $2; do
        case " $SERVER_TIDS " in
            *" $t "*) ;;
            *)
                RUN_NS=$(($3 * 1000000000 / CLK_TCK))
                RUN_SLICES=""
                RUN_NS_NOTE=", from ticks: thread $t ended"
                return
                ;;
        esac
    done
}
pid_ticks() {
    local line rest
    line=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    rest=${line##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $((${12} + ${13}))
}
# VmRSS / Pss in kB, summed over the server's processes.
server_rss_kb() {
    local total=0 p v
    for p in $(server_pids); do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
server_pss_kb() {
    local total=0 p v
    for p in $(server_pids); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# Busy ticks of the whole machine (user, nice, system, irq, softirq,
# steal) from /proc/stat.
machine_busy_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# steal_and_total_ticks: the hypervisor's steal and all ticks of the
# whole machine from /proc/stat ("STEAL TOTAL"): time a virtual machine's
# CPUs were ready but ran something else of the host's. The total is
# user through steal (the guest columns after it are already in user).
steal_and_total_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t; exit }' /proc/stat
}

# machine_kind: what the CPUs run on, for a report's header: the
# hypervisor lscpu names (or the CPU's hypervisor flag), or bare metal;
# the clock source; and how an idle CPU waits (cpuidle_kind).
machine_kind() {
    local vendor clock
    vendor=$(lscpu 2>/dev/null | awk -F': *' '/^Hypervisor vendor/ { print $2; exit }')
    if [ -z "$vendor" ] && grep -qw hypervisor /proc/cpuinfo; then
        vendor="hypervisor unnamed"
    fi
    clock=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)
    if [ -n "$vendor" ]; then
        printf 'a virtual machine (%s)' "$vendor"
    else
        printf 'bare metal (no hypervisor flag)'
    fi
    echo ", clock source $clock, $(cpuidle_kind)"
}

# cpuidle_kind: the kernel's idle driver and, for a guest's haltpoll
# driver, how long an idle CPU polls before it halts. A server that sleeps
# between SIPp's bursts pays for each wake-up, and waking a halted guest
# CPU costs more than one still polling: the low rates' figures depend on
# it.
cpuidle_kind() {
    local driver poll
    driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || true)
    case "${driver:-none}" in
        none) echo "no cpuidle driver" ;;
        haltpoll)
            poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo "")
            if [ "$poll" = 0 ]; then
                echo "idle driver haltpoll with halt polling off"
            elif [ -n "$poll" ]; then
                echo "idle driver haltpoll polling up to $((poll / 1000)) µs before halting"
            else
                echo "idle driver haltpoll"
            fi
            ;;
        *) echo "idle driver $driver" ;;
    esac
}

# wait_quiet TICKS_FN: before a measurement, waits (up to QUIET_WAIT s)
# until the rest of the machine (all but what TICKS_FN counts, the
# processes under test) uses less than QUIET_MAX % of one CPU, so that
# other work on the host does not land in the numbers; measures anyway
# after that, saying so.
wait_quiet() {
    local ticks=$1 until=$((SECONDS + QUIET_WAIT)) b0 b1 s0 s1 pct
    while :; do
        b0=$(machine_busy_ticks)
        s0=$("$ticks")
        sleep 1
        b1=$(machine_busy_ticks)
        s1=$("$ticks")
        pct=$(((b1 - b0 - (s1 - s0)) * 100 / CLK_TCK))
        [ "$pct" -le "$QUIET_MAX" ] && return 0
        if [ "$SECONDS" -ge "$until" ]; then
            log "machine still busy (${pct}% of a CPU in other processes) after ${QUIET_WAIT}s; measuring anyway"
            return 0
        fi
        sleep 2
    done
}

# make_pki DIR: a CA (DIR/ca.pem) and a P-256 server certificate for
# 127.0.0.1 and localhost (DIR/cert.pem, DIR/key.pem), made with openssl.
make_pki() {
    local pki=$1
    mkdir -p "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
        -out "$pki/ca.pem" -days 2 -subj "/CN=Parrot bench CA" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/key.pem" \
        -out "$pki/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$pki/ext.cnf"
    openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/cert.pem" -days 2 -extfile "$pki/ext.cnf" 2>/dev/null
}

# kamailio_tls_cfg FILE PKI: Kamailio's tls.cfg presenting PKI's
# certificate and verifying nothing, as server or as client.
kamailio_tls_cfg() {
    cat >"$1" <<CFG
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $2/key.pem
certificate = $2/cert.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
CFG
}

# A UDP port on 127.0.0.1 that is free now (the kernel's choice).
free_udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------
# Set-up.
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# install_missing COMMAND:PACKAGE...: apt-get installs the packages of the
# commands not found.
install_missing() {
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
    done
    [ ${#need[@]} -gt 0 ] || return 0
    log "installing ${need[*]}"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
}
# require_tools COMMAND...: exits unless every command is there.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool" >&2; exit 1; }
    done
}
# Servers and load generators run at a raised priority (nice -10) when
# allowed, so that other work on the host disturbs the measurements less:
# sets NICE (a command prefix, maybe empty).
set_nice() {
    NICE=()
    if [ "${BENCH_NICE:--10}" != 0 ] && nice -n "${BENCH_NICE:--10}" true 2>/dev/null &&
        [ "$(nice -n "${BENCH_NICE:--10}" nice)" -lt 0 ]; then
        NICE=(nice -n "${BENCH_NICE:--10}")
    fi
}

# ---------------------------------------------------------------------------
# The server under test: SERVER_PID, SERVER_NAME, started by the script.
SERVER_PID=""
SERVER_NAME=""
# require_free_port PORT: exits when something listens on the UDP port; it
# would share or steal the traffic (Kamailio binds with SO_REUSEADDR and
# would not even fail).
require_free_port() {
    if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]; then
        echo "UDP port $1 is already in use:" >&2
        ss -Hlunp "sport = :$1" >&2 || true
        exit 1
    fi
}
# start_server_as NAME LOG_FILE [KAMAILIO_ARGS...]: starts the server NAME
# (parrot, rsipstack or kamailio) on HOST:PORT[NAME], pinned to SERVER_CPU,
# from ANSWER_BIN, RSUAS_BIN (on RSUAS_RUNTIME, default multi-thread) or
# KAM_CFG (with KAM_CHILDREN, KAM_SHM_MB, KAM_PKG_MB and the extra
# arguments). Two more configurations of the references: rsipstack-ct
# (rsipstack on tokio's current-thread runtime) and kamailio-8 (Kamailio
# with its default 8 UDP children). And floor, from FLOOR_BIN (the kernel's
# side of a call, bench/floor-uas; floor-parse, the same with --parse), and
# parrot-fixed, from FIXED_BIN
# (parrot answering with a fixed SDP, bench/src/bin/fixed-answer.rs). Then
# waits (up to 20 tries) until the script's `probe_call NAME` succeeds, and
# exits when the server dies or never answers.
start_server_as() {
    local name=$1 log_file=$2 i
    shift 2
    mkdir -p "$(dirname "$log_file")"
    require_free_port "${PORT[$name]}"
    case "$name" in
        parrot)
            # PARROT_ARGS: more options for the answer server, e.g.
            # "--shards 2" (word-split).
            # shellcheck disable=SC2086
            RUST_LOG=${SERVER_LOG:-warn} "${NICE[@]}" taskset -c "$SERVER_CPU" "$ANSWER_BIN" \
                --listen "$HOST:${PORT[parrot]}" ${PARROT_ARGS:-} >"$log_file" 2>&1 &
            ;;
        rsipstack | rsipstack-ct)
            local runtime=${RSUAS_RUNTIME:-multi-thread}
            [ "$name" = rsipstack ] || runtime=current-thread
            RSUAS_RUNTIME=$runtime RUST_LOG=${SERVER_LOG:-warn} "${NICE[@]}" \
                taskset -c "$SERVER_CPU" "$RSUAS_BIN" \
                --listen "$HOST:${PORT[$name]}" >"$log_file" 2>&1 &
            ;;
        kamailio | kamailio-8)
            local children=$KAM_CHILDREN
            [ "$name" = kamailio ] || children=8
            mkdir -p "$OUT/kamailio/run"
            "${NICE[@]}" taskset -c "$SERVER_CPU" kamailio -DD -E -f "$KAM_CFG" "$@" \
                -l "udp:$HOST:${PORT[$name]}" -n "$children" \
                -m "$KAM_SHM_MB" -M "$KAM_PKG_MB" -Y "$OUT/kamailio/run" \
                -w "$OUT/kamailio/run" >"$log_file" 2>&1 &
            ;;
        parrot-fixed)
            # shellcheck disable=SC2086
            RUST_LOG=${SERVER_LOG:-warn} "${NICE[@]}" taskset -c "$SERVER_CPU" "$FIXED_BIN" \
                --listen "$HOST:${PORT[parrot-fixed]}" ${PARROT_ARGS:-} >"$log_file" 2>&1 &
            ;;
        floor | floor-parse)
            local parse=()
            [ "$name" = floor ] || parse=(--parse)
            "${NICE[@]}" taskset -c "$SERVER_CPU" "$FLOOR_BIN" \
                --listen "$HOST:${PORT[$name]}" "${parse[@]}" >"$log_file" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    SERVER_PID=$!
    SERVER_NAME=$name
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 20); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -20 "$log_file" >&2
            echo "$name exited during start-up" >&2
            exit 1
        fi
        if probe_call "$name"; then
            sleep 0.5
            return 0
        fi
        sleep 0.5
    done
    tail -20 "$log_file" >&2
    echo "$name does not answer a call on $HOST:${PORT[$name]}" >&2
    exit 1
}
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill_pid_tree "$SERVER_PID"
    forget_pid "$SERVER_PID"
    SERVER_PID=""
}

# stat_col FILE NAME: the last value of column NAME in a SIPp statistics
# CSV (0 when missing).
stat_col() {
    awk -F';' -v name="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
        NF > 1 { last = $col }
        END { print (col && last != "") ? last + 0 : 0 }' "$1" 2>/dev/null || echo 0
}

# watch_bounded PID SECONDS WHAT: waits for the recorded process PID to
# end, killing its tree (and logging WHAT) if it still runs SECONDS from
# now. Sets WATCHED_TICKS (its CPU time, utime+stime, as last seen in
# /proc) and WATCHED_EXIT (its exit status).
watch_bounded() {
    local pid=$1 deadline=$((SECONDS + $2)) s
    WATCHED_TICKS=0
    while alive "$pid"; do
        s=$(pid_ticks "$pid")
        [ "$s" -gt 0 ] && WATCHED_TICKS=$s
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$3 still running after $2 s, killed"
            kill_pid_tree "$pid"
            break
        fi
        sleep 0.2
    done
    WATCHED_EXIT=0
    wait "$pid" 2>/dev/null || WATCHED_EXIT=$?
    forget_pid "$pid"
}
