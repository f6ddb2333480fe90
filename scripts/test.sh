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
if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
fi

cargo test --workspace --all-targets
cargo test --workspace --doc
