#!/usr/bin/env bash
# Builds the macOS installer package (run on macOS; .github/workflows/build.yml does):
#   installer/macos/build-pkg.sh --bin target/release/tether-agent [--out DIR]
# Unsigned; docs/DEPLOY.md explains signing with a Developer ID Installer certificate and
# notarisation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=""
out="$root/target/pkg"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 --bin PATH [--out DIR]" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "error: --bin must name the agent binary" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -d "$stage/usr/local/bin" "$stage/Library/LaunchDaemons" "$stage/usr/local/share/tether"
install -m 755 "$bin" "$stage/usr/local/bin/tether-agent"
install -m 644 "$here/com.tether.agent.plist" "$stage/Library/LaunchDaemons/com.tether.agent.plist"
install -m 755 "$here/uninstall.sh" "$stage/usr/local/share/tether/uninstall.sh"
mkdir -p "$out"
pkg="$out/tether-agent-$version.pkg"
pkgbuild --root "$stage" --scripts "$here/scripts" --identifier com.tether.agent \
  --version "$version" --install-location / "$pkg" >&2
echo "$pkg"
