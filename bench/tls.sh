#!/usr/bin/env bash
# TLS and WebSocket connections: what an idle one costs the server, and how
# many TLS handshakes a second one core completes; parrot against
# Kamailio 5.6's TLS module in the same run, on loopback.
#
#   1. parrot    - the `answer` example (release build) with --tls and --wss
#   2. kamailio  - a generated config: a TLS listener answering OPTIONS
#                  (tls.so with the same certificate, tcp/tls_max_connections
#                  raised to fit the connections)
#
# The client is bench's `tlsconns` (release build), pinned to CPU 0; each
# server is pinned to CPU 1 and started fresh for each measurement:
#   idle      CONNS connections opened, each answering one OPTIONS, then
#             held idle: (RSS with them - RSS before) / CONNS (Kamailio:
#             PSS summed over its processes, its shared memory counted once)
#   handshakes HANDSHAKES TLS handshakes, 4 at a time, each connection
#             closed at once: handshakes a second, and the server's CPU
#             time per handshake
# A CA and a server certificate (P-256) are made with openssl at start.
#
# usage: bench/tls.sh [--no-install] [--out DIR]
# Knobs (environment): CONNS (5000), HANDSHAKES (3000), BENCH_NICE (-10).
# Every process the script starts is killed by pid on exit; traffic goes to
# 127.0.0.1 only. Nothing asserts: the report gives the figures.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

INSTALL=1
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --out) OUT=$2; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
CONNS=${CONNS:-5000}
HANDSHAKES=${HANDSHAKES:-3000}
SERVER_CPU=1
GEN_CPU=0
HOST=127.0.0.1
declare -A PORT=([parrot]=5171 [parrot_wss]=5172 [kamailio]=5191)

open_output tls tls-bench report.md
if [ "$INSTALL" = 1 ]; then
    install_missing kamailio:kamailio openssl:openssl
    ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 ||
        { $SUDO apt-get update; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio-tls-modules; }
fi
PATH=$PATH:/usr/sbin
require_tools kamailio openssl taskset
KAM_MODULES=$(dirname "$(ls /usr/lib/*/kamailio/modules/tls.so | head -1)")
set_nice
# Each side holds CONNS sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((CONNS + 100)) ] || { echo "ulimit -n $(ulimit -n) is too low for $CONNS connections" >&2; exit 1; }

log "building the answer example and tlsconns (release)"
(cd "$ROOT" && cargo build --release -q -p examples --bin answer -p bench --bin tlsconns)
TARGET_DIR=${CARGO_TARGET_DIR:-"$ROOT/target"}
ANSWER_BIN="$TARGET_DIR/release/answer"
CLIENT_BIN="$TARGET_DIR/release/tlsconns"

PKI="$OUT/pki"
make_pki "$PKI"

KAM_DIR="$OUT/kamailio"
mkdir -p "$KAM_DIR/run"
kamailio_tls_cfg "$KAM_DIR/tls.cfg" "$PKI"
cat >"$KAM_DIR/kamailio.cfg" <<CFG
#!KAMAILIO
debug=1
log_stderror=yes
children=2
tcp_children=2
disable_tcp=no
enable_tls=yes
listen=tls:$HOST:${PORT[kamailio]}
tcp_max_connections=$((CONNS + 1000))
tls_max_connections=$((CONNS + 1000))
tcp_connection_lifetime=3600
mpath="$KAM_MODULES/"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "textops.so"
modparam("tls", "config", "$KAM_DIR/tls.cfg")
request_route {
    if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("404", "Not Here");
}
CFG

# start NAME: the server, fresh, pinned; waits until its TLS port accepts.
start() {
    local name=$1 i
    case "$name" in
        parrot)
            RUST_LOG=warn "${NICE[@]}" taskset -c "$SERVER_CPU" "$ANSWER_BIN" --listen "$HOST:5170" \
                --tls "$HOST:${PORT[parrot]}" --wss "$HOST:${PORT[parrot_wss]}" \
                --cert "$PKI/cert.pem" --key "$PKI/key.pem" \
                --max-connections $((CONNS + 1000)) --max-connections-per-source $((CONNS + 1000)) \
                >"$OUT/$name.log" 2>&1 &
            ;;
        kamailio)
            "${NICE[@]}" taskset -c "$SERVER_CPU" kamailio -DD -E -f "$KAM_DIR/kamailio.cfg" \
                -m 512 -M 16 -Y "$KAM_DIR/run" -w "$KAM_DIR/run" >"$OUT/$name.log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    SERVER_NAME=$name
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 40); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$OUT/$name.log" >&2; exit 1; }
        if (exec 3<>"/dev/tcp/$HOST/${PORT[$name]}") 2>/dev/null; then
            sleep 1
            return 0
        fi
        sleep 0.25
    done
    echo "$name does not listen on ${PORT[$name]}" >&2
    exit 1
}

# memory_kb NAME: RSS for parrot, PSS summed over Kamailio's processes.
memory_kb() {
    if [ "$1" = kamailio ]; then server_pss_kb; else server_rss_kb; fi
}

# idle NAME PORT [--wss]: bytes per idle connection.
idle() {
    local name=$1 port=$2 wss=${3:-} before after client
    # Run in a subshell ($(...)), which does not inherit the EXIT trap: a
    # failure here must not leave the server running.
    trap cleanup EXIT
    start "$name"
    before=$(memory_kb "$name")
    # shellcheck disable=SC2086
    "${NICE[@]}" taskset -c "$GEN_CPU" timeout 120 "$CLIENT_BIN" hold --target "$HOST:$port" $wss \
        --ca "$PKI/ca.pem" --count "$CONNS" --hold 8 >"$OUT/idle-$name$wss.txt" 2>&1 &
    client=$!
    PIDS+=("$client")
    local i
    for i in $(seq 1 100); do
        grep -q '^open ' "$OUT/idle-$name$wss.txt" 2>/dev/null && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.5
    done
    grep -q '^open ' "$OUT/idle-$name$wss.txt" || { cat "$OUT/idle-$name$wss.txt" >&2; exit 1; }
    sleep 2
    after=$(memory_kb "$name")
    wait "$client" || true
    forget_pid "$client"
    stop_server
    echo "$before $after $(((after - before) * 1024 / CONNS))"
}

# handshakes NAME PORT: handshakes a second, and server CPU µs per handshake
# ("failed failed" when the client could not complete them).
handshakes() {
    local name=$1 port=$2 t0 t1 file="$OUT/handshakes-$1.txt"
    trap cleanup EXIT
    start "$name"
    t0=$(server_ticks)
    if ! "${NICE[@]}" taskset -c "$GEN_CPU" timeout 120 "$CLIENT_BIN" rate --target "$HOST:$port" \
        --ca "$PKI/ca.pem" --count "$HANDSHAKES" --concurrency 4 >"$file" 2>&1; then
        log "$name: handshakes failed: $(tail -1 "$file")"
        stop_server
        echo "failed failed"
        return 0
    fi
    t1=$(server_ticks)
    stop_server
    echo "$(awk '{print $6}' "$file") $(((t1 - t0) * 1000000 / CLK_TCK / HANDSHAKES))"
}

log "idle TLS connections: $CONNS"
read -r P_B P_A P_TLS <<<"$(idle parrot "${PORT[parrot]}")"
read -r K_B K_A K_TLS <<<"$(idle kamailio "${PORT[kamailio]}")"
log "idle WSS connections: $CONNS"
read -r W_B W_A P_WSS <<<"$(idle parrot "${PORT[parrot_wss]}" --wss)"
log "TLS handshakes: $HANDSHAKES"
read -r P_HS P_HS_CPU <<<"$(handshakes parrot "${PORT[parrot]}")"
read -r K_HS K_HS_CPU <<<"$(handshakes kamailio "${PORT[kamailio]}")"

out "# TLS and WebSocket connections ($(date -u +%F), parrot $(cd "$ROOT" && git rev-parse --short HEAD), $(kamailio -v 2>/dev/null | head -1 | awk '{print $3}' || echo kamailio))"
out ""
out "| measure | parrot | kamailio | parrot / kamailio |"
out "| --- | --- | --- | --- |"
out "| memory per idle TLS connection ($CONNS open) | $P_TLS B ($P_B -> $P_A kB) | $K_TLS B ($K_B -> $K_A kB PSS) | $(awk -v a="$P_TLS" -v b="$K_TLS" 'BEGIN{printf "%.2f", a/b}') |"
out "| memory per idle WSS connection ($CONNS open) | $P_WSS B ($W_B -> $W_A kB) | - | - |"
out "| TLS handshakes a second (server on one core, 4 at a time) | $P_HS/s | $K_HS/s | $(awk -v a="$P_HS" -v b="$K_HS" 'BEGIN{printf "%.2f", a/b}') |"
out "| server CPU per handshake | $P_HS_CPU µs | $K_HS_CPU µs | $(awk -v a="$P_HS_CPU" -v b="$K_HS_CPU" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') |"
log "report: $REPORT"
