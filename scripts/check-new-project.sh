#!/usr/bin/env bash
# Generates a project from template/ with scripts/new-project.sh, against
# this checkout's parrot crate, and checks it as its author would: `cargo
# fmt --check`, `cargo clippy -D warnings` and `cargo test` (which drives
# the server with Parrot's client and, when installed, SIPp).
#
# Offline: the workspace's Cargo.lock is copied into the new project, so
# every dependency resolves to a version the workspace already has, and
# cargo runs with --offline. The build shares the workspace's target
# directory (CARGO_TARGET_DIR, else ./target), so parrot's dependencies
# are not compiled again from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
project="$work/demo-uas"
scripts/new-project.sh demo-uas "$project" --parrot-path "$repo/parrot"
cp Cargo.lock "$project/Cargo.lock"

manifest="$project/Cargo.toml"
cargo fmt --manifest-path "$manifest" --check
cargo clippy --offline --manifest-path "$manifest" --all-targets -- -D warnings
cargo test --offline --manifest-path "$manifest"
echo "The generated project passes fmt, clippy and its tests."
