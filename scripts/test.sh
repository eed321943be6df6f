#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy, unit, property, integration and
# end-to-end tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

for tool in rustfmt clippy-driver; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; install the rustfmt and clippy components" >&2; exit 1; }
done

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
