#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy, unit, property, integration and
# end-to-end tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it began (seconds since the start), so a slow run shows where it went.
step() { echo "== $* (at ${SECONDS} s)"; }

scripts/install-deps.sh test
source scripts/vpx.sh

for tool in rustfmt clippy-driver; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; install the rustfmt and clippy components" >&2; exit 1; }
done

step "web viewer: build, type check, unit tests"
scripts/build-web.sh
(cd web && npm run --silent check && npm test --silent)

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked "${vpx_features[@]}" -- -D warnings
step "cargo test"
cargo test --workspace --locked "${vpx_features[@]}"

step "the relay's suite again, on PostgreSQL (a throwaway server the tests start)"
TETHER_TEST_STORE=postgres cargo test --workspace --locked "${vpx_features[@]}" --test relay

step "browser end-to-end (Chromium, relay, agent, Xvfb; private network namespace)"
# Every cargo run below names `--workspace`, so features resolve as in `cargo test --workspace`
# and the dependencies built there serve again (with `-p` each set of packages resolves anew and
# a cold machine builds a third of the graph once more per run). Only tether-xprobe is new here.
cargo build --workspace --locked "${vpx_features[@]}" --bin tether-relay --bin tether-agent --bin tether-xprobe
# Only loopback exists in the namespace, so nothing can leave the machine.
isolate=(unshare -n)
[ "$(id -u)" -eq 0 ] || isolate=(unshare -rn)
"${isolate[@]}" -- bash -c 'ip link set lo up && exec node --test tests/browser/'

step "Linux package: build, install with a preseeded token, serve unattended, purge"
# It installs into the system, so only as root (CI machines), and never over a real installation.
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W -f='${Status}' tether-agent 2>/dev/null | grep -q "install ok installed"; then
  deb=$(installer/linux/build-deb.sh --bin target/debug/tether-agent)
  TETHER_DEB="$deb" cargo test --workspace --locked "${vpx_features[@]}" --test agent -- --ignored deb::
else
  echo "skipped: needs root, and no tether-agent package installed"
fi
step "relay package: build, install, first administrator, serve as its user, purge"
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W -f='${Status}' tether-relay 2>/dev/null | grep -q "install ok installed"; then
  deb=$(installer/linux/build-deb.sh --package relay --bin target/debug/tether-relay)
  TETHER_RELAY_DEB="$deb" cargo test --workspace --locked "${vpx_features[@]}" --test relay -- --ignored deb::
else
  echo "skipped: needs root, and no tether-relay package installed"
fi
step "Windows: clippy for x86_64-pc-windows-gnu, tests under Wine (scripts/cross.sh)"
# debootstrap and chroot need root; the tree it builds is kept under target/cross-root.
if [ "$(id -u)" -eq 0 ]; then
  scripts/cross.sh
else
  echo "skipped: needs root"
fi
