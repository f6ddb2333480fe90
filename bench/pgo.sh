#!/usr/bin/env bash
# Profile-guided build of a SIP server: an instrumented release build is
# trained with SIPp calls on loopback, and the release build is made again
# with that profile (rustc's -Cprofile-generate / -Cprofile-use).
#
# usage: bench/pgo.sh --bin NAME --out FILE [--dir DIR] [--package PKG]
#                     [--train-env "K=V ..."]... [--calls N] [--rate R]
#                     [--cpu LIST] [--install]
#   --bin NAME      the binary to build (it must take --listen ADDR and stop
#                   cleanly on SIGINT: the profile is written at exit)
#   --out FILE      where the optimized binary is copied
#   --dir DIR       the Cargo project to build in (default: this workspace)
#   --package PKG   cargo -p PKG (default: none)
#   --train-env S   environment for one training run ("K=V K2=V2"); given
#                   several times, one run each, their profiles merged
#                   (e.g. both tokio runtimes of a server); default one run
#   --calls N       calls per training run (default 20000)
#   --rate R        calls/s of SIPp's built-in uac (default 2000)
#   --cpu LIST      taskset -c LIST for the server while it trains (default:
#                   not confined); SIPp runs unconfined
#   --install       apt-get the llvm-profdata of rustc's LLVM when missing
#
# The builds go to DIR/target/pgo/{generate,use} (their own target
# directories: the profile flags change every crate's build). The optimized
# build's profile path carries the profile's hash, so a new profile rebuilds
# every crate with it, not only the ones whose sources changed.
#
# Every process started is stopped by pid; each SIPp run has a call count and
# a time limit; traffic goes to 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DIR=$ROOT
BIN=""
OUT_BIN=""
PACKAGE=""
TRAIN_ENVS=()
CALLS=20000
RATE=2000
CPU=""
INSTALL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN=$2; shift ;;
        --out) OUT_BIN=$2; shift ;;
        --dir) DIR=$2; shift ;;
        --package) PACKAGE=$2; shift ;;
        --train-env) TRAIN_ENVS+=("$2"); shift ;;
        --calls) CALLS=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --cpu) CPU=$2; shift ;;
        --install) INSTALL=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "pgo.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$BIN" ] && [ -n "$OUT_BIN" ] || { echo "pgo.sh: --bin and --out are needed (see --help)" >&2; exit 2; }
[ ${#TRAIN_ENVS[@]} -gt 0 ] || TRAIN_ENVS=("")
# Absolute: rustc and the trained server resolve the profile paths from
# their own working directories.
DIR=$(cd "$DIR" && pwd)
# log, SUDO, install_missing, require_tools, free_udp_port, and cleanup of
# the processes recorded in PIDS.
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
LOG_TAG="pgo $BIN"
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

# rustc writes profiles in its LLVM's format: only an llvm-profdata of the
# same major version reads them.
LLVM_MAJOR=$(rustc -vV | awk '/^LLVM version:/ { split($3, v, "."); print v[1] }')
[ -n "$LLVM_MAJOR" ] || { echo "pgo.sh: rustc -vV names no LLVM version" >&2; exit 1; }
find_profdata() {
    local c
    for c in "llvm-profdata-$LLVM_MAJOR" \
        "$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | awk '/^host:/ { print $2 }')/bin/llvm-profdata" \
        llvm-profdata; do
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" --version 2>/dev/null | grep -Eq "LLVM version $LLVM_MAJOR\."; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}
if ! PROFDATA=$(find_profdata); then
    [ "$INSTALL" = 0 ] || install_missing "llvm-profdata-$LLVM_MAJOR:llvm-$LLVM_MAJOR" >&2
    PROFDATA=$(find_profdata) || {
        echo "pgo.sh: no llvm-profdata of LLVM $LLVM_MAJOR (rustc's): install llvm-$LLVM_MAJOR or rustup's llvm-tools, or pass --install" >&2
        exit 1
    }
fi
require_tools sipp python3

WORK=$DIR/target/pgo
RAW=$WORK/raw
rm -rf "$RAW"
mkdir -p "$RAW"
pkg=()
[ -z "$PACKAGE" ] || pkg=(-p "$PACKAGE")

log "instrumented build ($DIR)"
(cd "$DIR" && CARGO_TARGET_DIR=$WORK/generate RUSTFLAGS="-Cprofile-generate=$RAW" \
    cargo build --release -q "${pkg[@]}" --bin "$BIN") >&2
instrumented=$WORK/generate/release/$BIN

pin=()
[ -z "$CPU" ] || pin=(taskset -c "$CPU")
for envs in "${TRAIN_ENVS[@]}"; do
    port=$(free_udp_port)
    # shellcheck disable=SC2086
    env RUST_LOG=warn $envs "${pin[@]}" "$instrumented" --listen "127.0.0.1:$port" \
        >"$tmp/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    up=0
    for _ in $(seq 1 20); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "pgo.sh: the server exited" >&2; exit 1; }
        if timeout -k 1 6 sipp -sn uac "127.0.0.1:$port" -i 127.0.0.1 -p "$(free_udp_port)" -m 1 \
            -timeout 3s -timeout_error -nostdin >/dev/null 2>&1; then
            up=1
            break
        fi
        sleep 0.5
    done
    [ "$up" = 1 ] || { echo "pgo.sh: the server never answered" >&2; exit 1; }
    log "training${envs:+ ($envs)}: $CALLS calls at $RATE/s"
    bound=$((CALLS / RATE + 30))
    rc=0
    (cd "$tmp" && timeout -k 1 $((bound + 10)) sipp -sn uac "127.0.0.1:$port" -i 127.0.0.1 \
        -p "$(free_udp_port)" -m "$CALLS" -r "$RATE" -timeout "${bound}s" -timeout_error \
        -nostdin -trace_stat -stf stat.csv >/dev/null 2>&1) || rc=$?
    # SIPp exits 1 when any call failed: an instrumented server on one
    # CPU may lose a few calls at the training rate, and the profile of
    # the others is as good. Anything else, or most calls lost, is a
    # failed training.
    ok=$(stat_col "$tmp/stat.csv" 'SuccessfulCall(C)')
    if [ "$rc" != 0 ] && { [ "$rc" != 1 ] || [ "${ok:-0}" -lt $((CALLS * 9 / 10)) ]; }; then
        echo "pgo.sh: the training run failed (SIPp exit $rc, ${ok:-0} of $CALLS calls)" >&2
        exit 1
    fi
    [ "$rc" = 0 ] || log "training: ${ok:-0} of $CALLS calls succeeded (SIPp exit 1); the profile stands"
    # SIGINT: a clean exit writes the profile.
    kill -INT "$SERVER_PID"
    for _ in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "pgo.sh: the server did not stop on SIGINT within 10 s" >&2
        exit 1
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    forget_pid "$SERVER_PID"
done
ls "$RAW"/*.profraw >/dev/null 2>&1 || { echo "pgo.sh: the training wrote no profile" >&2; exit 1; }

merged_tmp=$WORK/merged.profdata
"$PROFDATA" merge -o "$merged_tmp" "$RAW"/*.profraw
hash=$(sha256sum "$merged_tmp" | cut -c1-16)
merged=$WORK/merged-$hash.profdata
mv "$merged_tmp" "$merged"
# Older profiles are not read again.
find "$WORK" -maxdepth 1 -name 'merged-*.profdata' ! -name "merged-$hash.profdata" -delete

log "optimized build with $merged"
(cd "$DIR" && CARGO_TARGET_DIR=$WORK/use RUSTFLAGS="-Cprofile-use=$merged" \
    cargo build --release -q "${pkg[@]}" --bin "$BIN") >&2
mkdir -p "$(dirname "$OUT_BIN")"
cp "$WORK/use/release/$BIN" "$OUT_BIN"
log "wrote $OUT_BIN"
