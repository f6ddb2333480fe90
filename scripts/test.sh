#!/usr/bin/env bash
# Runs the whole test suite: installs what the end-to-end tests need, then
# every unit, integration, property and doc test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests (tests/) drive real SIPp: install it (Debian/Ubuntu
# package sip-tester) when `sipp` is not on PATH.
if ! command -v sipp >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y sip-tester
fi

cargo test --workspace --all-targets
cargo test --workspace --doc
