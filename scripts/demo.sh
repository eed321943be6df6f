#!/usr/bin/env bash
# Sets up and runs Tether on one machine with embedded defaults: builds everything in release
# mode and starts what exists so far. The relay (with the viewer URL) and the agent sharing this
# display join here as they land.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh build
cargo build --release --workspace --locked

echo
echo "Tether $(cargo pkgid -p tether-protocol | sed 's/.*[#@]//') built: target/release/"
echo "The wire contract is in docs/PROTOCOL.md; the relay and agent binaries arrive with their issues."
