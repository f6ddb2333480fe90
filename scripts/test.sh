#!/usr/bin/env bash
# Runs the whole test suite: installs what the end-to-end tests need, then
# every unit, integration, property and doc test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets
cargo test --workspace --doc
