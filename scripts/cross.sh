#!/usr/bin/env bash
# Builds, lints and tests the Windows side of Tether from a Linux machine.
#   scripts/cross.sh [setup|check|test|all]   (default: all)
#   scripts/cross.sh run COMMAND...          runs COMMAND in the tree (e.g. wine), from the checkout
#
# setup: a Debian unstable tree under target/cross-root (debootstrap, kept between runs) with the
#        rustc whose `rust-src` matches it, clippy, the mingw-w64 cross compilers and Wine. The
#        machine's own toolchain has no Windows standard library and none can be fetched, so the
#        standard library is built from `rust-src` (`-Zbuild-std`).
# check: `cargo clippy -D warnings` for x86_64-pc-windows-gnu on every crate that cross-builds,
#        and for aarch64-apple-darwin on the crates whose build needs no Apple SDK.
# test:  the crates' tests built for Windows and run under Wine; tether-agent.exe under Wine
#        on an Xvfb display against the real relay; its MSI (wixl) installed and uninstalled
#        silently under Wine against the relay (Linux tests drive those two).
#
# Needs root (debootstrap, chroot, bind mounts in a private mount namespace that ends with the
# script). Downloads only from the Debian archive and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:-all}
case "$step" in setup | check | test | all | run) ;; *) echo "usage: $0 [setup|check|test|all] | run COMMAND..." >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "error: $0 needs root (debootstrap, chroot)" >&2; exit 1; }

root=${TETHER_CROSS_ROOT:-$PWD/target/cross-root}
mirror=${TETHER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
target=x86_64-pc-windows-gnu
# Crates linted for Windows, tests and benches included (in one cargo run: each run with
# another set of crates resolves features anew and builds most dependencies again).
check_crates=(tether-protocol tether-relay tether-agent tether-desktop)
# Crates linted for macOS. Without Apple's SDK there are no C headers for the target, so every
# crate whose build compiles C or C++ is out: the relay (bundled SQLite, ring), the agent and
# the desktop app (openh264, ring, SQLite); docs/ARCHITECTURE.md lists them.
mac_target=aarch64-apple-darwin
mac_crates=(tether-protocol)
# Crates whose unit tests run under Wine (their integration tests start Linux processes), and
# the integration tests that do run there (`windows`: a Win32 window records the agent's input).
# Building the agent's (Linux-only, so empty) `agent` test target builds tether-agent.exe with
# the same features, for the end-to-end test.
test_crates=(tether-protocol tether-agent tether-relay)
test_targets=(protocol agent windows)
pkgs=(ca-certificates rustc cargo rust-src rust-clippy gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
  wine wine64 xvfb xauth wixl msitools)

setup() {
  local stamp="$root/.tether-ready"
  local want="${pkgs[*]}"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  local missing=()
  for p in debootstrap debian-archive-keyring; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -ne 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 -q -y update >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 -q -y install --no-install-recommends "${missing[@]}"
  fi
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    echo "== cross: debootstrap Debian unstable into $root"
    rm -rf "$root"
    debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
      sid "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
  fi
  echo "== cross: installing ${pkgs[*]}"
  # The mirror's Release file may be past its valid-until date; its signature is still checked.
  local apt=(apt-get -o Acquire::Check-Valid-Until=false -o DPkg::Lock::Timeout=600 -q -y)
  in_root "${apt[*]} update >/dev/null && ${apt[*]} install --no-install-recommends ${pkgs[*]} >/dev/null"
  echo "$want" >"$stamp"
}

# Runs a shell command inside the tree, with this checkout, the cargo registry, the X server
# sockets and the machine's CA bundle (crates.io may be reached through a proxy that only it
# trusts) bound in. The network is the machine's: loopback reaches servers started outside.
in_root() {
  local cargo_home=${CARGO_HOME:-$HOME/.cargo}
  mkdir -p "$cargo_home/registry"
  local ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  cp "$ca" "$root/etc/host-ca.crt"
  # openh264 is C++: link mingw's libstdc++ statically (rustc must be told where it is), so the
  # programs need no DLL beside them.
  local cross_env='export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-L native=$(dirname "$(x86_64-w64-mingw32-g++ -print-file-name=libstdc++.a)")"'
  ${exec_root:+exec} unshare -m -- bash -euo pipefail -c '
    root=$1 src=$2 reg=$3 cmd=$4 cross_env=$5
    mount --make-rprivate /
    mkdir -p "$root/work/tether" "$root/root/.cargo/registry"
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount --bind "$src" "$root/work/tether"
    mount --bind "$reg" "$root/root/.cargo/registry"
    if [ -d /tmp/.X11-unix ]; then
      mkdir -p "$root/tmp/.X11-unix"
      mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
    fi
    exec chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TERM=dumb \
      CARGO_HTTP_CAINFO=/etc/host-ca.crt SSL_CERT_FILE=/etc/host-ca.crt \
      CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}" RUSTC_BOOTSTRAP=1 \
      CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine WINEDEBUG=-all WINEPREFIX=/root/.wine \
      XDG_RUNTIME_DIR=/tmp DISPLAY="${DISPLAY:-}" TETHER_LOG="${TETHER_LOG:-}" RUST_LOG="${RUST_LOG:-}" \
      CXXSTDLIB_x86_64_pc_windows_gnu=static=stdc++ CARGO_PROFILE_DEV_DEBUG=line-tables-only \
      bash -euo pipefail -c "$cross_env; cd /work/tether && $cmd"
  ' bash "$root" "$PWD" "$cargo_home/registry" "$1" "$cross_env"
}

cross_cargo() {
  local args=""
  for c in "${@:2}"; do args+=" $c"; done
  # Its own target folder: the host's builds and these never share artifacts.
  in_root "${prelude:-}cargo $1 --locked -Zbuild-std --target ${for_target:-$target} --target-dir target/${target_dir:-windows}$args"
}

# Windows programs under Wine that open windows need an X display: a private Xvfb in the tree,
# on the first free display number, for the rest of the command.
with_xvfb='f=$(mktemp); Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$f" 2>/dev/null &
  xvfb=$!; trap "kill $xvfb" EXIT
  until [ -s "$f" ]; do kill -0 $xvfb; sleep 0.05; done; export DISPLAY=:$(cat "$f"); '


# `-p` for each crate named.
packages() { for c in "$@"; do printf -- ' -p %s' "$c"; done; }

setup
if [ "$step" = run ]; then
  shift
  # exec all the way down: the caller's process is the command's, so killing it ends it.
  exec_root=1 in_root "exec $(printf '%q ' "$@")"
fi
if [ "$step" = check ] || [ "$step" = all ]; then
  echo "== cross: clippy for $target: ${check_crates[*]}"
  # No VP8: Debian has no libvpx built for mingw-w64.
  cross_cargo clippy "$(packages "${check_crates[@]}")" --no-default-features --all-targets -- -D warnings
  echo "== cross: clippy for $mac_target: ${mac_crates[*]}"
  for_target=$mac_target target_dir=macos \
    cross_cargo clippy "$(packages "${mac_crates[@]}")" --all-targets -- -D warnings
fi
if [ "$step" = test ] || [ "$step" = all ]; then
  echo "== cross: unit tests for $target under Wine: ${test_crates[*]}; integration tests: ${test_targets[*]}"
  targets=""
  for t in "${test_targets[@]}"; do targets+=" --test $t"; done
  # The store suite's PostgreSQL half needs Debian's server, so it runs on the host only.
  prelude=$with_xvfb cross_cargo test "$(packages "${test_crates[@]}")" --no-default-features --lib "$targets" \
    -- --skip store::tests::postgres::
  echo "== cross: the agent's MSI (wixl), from that tether-agent.exe"
  exe=target/windows/$target/debug/tether-agent.exe
  msi=$(in_root "installer/windows/build-msi.sh --exe $exe --out target/windows")
  msi=${msi#/work/tether/}
  echo "== cross: tether-agent.exe and its MSI under Wine, against the relay (agent/tests/linux/{wine,msi}.rs)"
  source scripts/vpx.sh
  TETHER_WINE_AGENT=$exe TETHER_WINE_MSI=$msi \
    TETHER_WINE_RUN="$PWD/scripts/cross.sh run wine" TETHER_CROSS_RUN="$PWD/scripts/cross.sh run" \
    cargo test --workspace --locked "${vpx_features[@]}" --test agent -- --ignored wine:: msi::
fi
