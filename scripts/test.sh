#!/usr/bin/env bash
# Runs the whole test suite: installs what the end-to-end tests need, then
# every unit, integration, property and doc test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests (tests/) drive real SIPp (Debian/Ubuntu package
# sip-tester) and, for SIP over TLS, a real Kamailio with its TLS module
# (packages kamailio and kamailio-tls-modules, which puts tls.so in
# /usr/lib/<multiarch triplet>/kamailio/modules): install what is missing.
# Debian installs kamailio in /usr/sbin, which may not be on PATH.
packages=()
if ! command -v sipp >/dev/null 2>&1; then
    packages+=(sip-tester)
fi
kamailio_tls_module() {
    local so
    for so in /usr/lib/*/kamailio/modules/tls.so /usr/lib/kamailio/modules/tls.so; do
        [ -f "$so" ] && return 0
    done
    return 1
}
if ! { command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ]; } ||
    ! kamailio_tls_module; then
    packages+=(kamailio kamailio-tls-modules)
fi
# The baresip test (tests/tests/e2e/baresip.rs) runs a real baresip (Debian
# package baresip-core) as the caller.
if ! command -v baresip >/dev/null 2>&1; then
    packages+=(baresip-core)
fi
# The RFC 3263 location test (parrot/tests/locate_dnsmasq.rs) asks a real
# dnsmasq for NAPTR and SRV records: the binary alone (Debian package
# dnsmasq-base, /usr/sbin/dnsmasq), not the system DNS service.
if ! command -v dnsmasq >/dev/null 2>&1 && [ ! -x /usr/sbin/dnsmasq ]; then
    packages+=(dnsmasq-base)
fi
# The Redis location store's tests (parrot/tests/registrar_redis.rs) run a
# real redis-server (Debian package redis-server), one per test on a free
# loopback port, not the system service.
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    packages+=(redis-server)
fi
# The browser test (tests/tests/e2e/browser.rs) drives headless Chromium
# (Debian package chromium, /usr/bin/chromium) with puppeteer-core and JsSIP
# from tests/browser/node_modules, installed with npm (Debian packages
# nodejs and npm when node or npm is missing).
if [ ! -x /usr/bin/chromium ]; then
    packages+=(chromium)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
# The media load test (tests/tests/e2e/media_load.rs) captures, with
# tcpdump (Debian package tcpdump) on the loopback interface, the RTP that
# the echo server sends back to SIPp; capturing needs root.
if ! command -v tcpdump >/dev/null 2>&1 && [ ! -x /usr/bin/tcpdump ] && [ ! -x /usr/sbin/tcpdump ]; then
    packages+=(tcpdump)
fi
# The call-flow picture test (examples/tests/parrot_trace.rs) draws an SVG
# into a PNG with rsvg-convert (Debian package librsvg2-bin).
if ! command -v rsvg-convert >/dev/null 2>&1; then
    packages+=(librsvg2-bin)
fi
if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
fi

# The browser test's npm packages, exactly as locked; puppeteer-core never
# downloads a browser (it uses /usr/bin/chromium), and these make sure of it.
if [ ! -d tests/browser/node_modules ]; then
    (cd tests/browser &&
        PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# One whole run, not an edit loop: incremental compilation's caches would
# only double the build directory's size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Nor does it need debug information: line tables and the standard
# library's debug sections are four fifths of every test binary, and the
# whole run (about 60 test binaries, the ui-tests' own build, the
# generated project's) took 8.4 GB of disk with them, 2 to 3 GB without.
# A panic still names its file and line. Set either variable to keep them.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-0}"
export CARGO_PROFILE_DEV_STRIP="${CARGO_PROFILE_DEV_STRIP:-debuginfo}"
df -h . | sed 's/^/disk before the build: /'

cargo test --workspace --all-targets
cargo test --workspace --doc

# Features that no workspace build turns on, each tested on its own:
# `otel` on the examples (OpenTelemetry trace export, `--otlp`), against
# an OTLP/HTTP receiver the test runs on loopback.
cargo test -p examples --features otel --test otel

# A project generated from template/ (scripts/new-project.sh) passes its
# own fmt, clippy and tests, offline, against this checkout's parrot.
./scripts/check-new-project.sh
df -h . | sed 's/^/disk after the run: /'
