#!/usr/bin/env bash
# Builds the Linux package of the agent (binary, hardened systemd unit, debconf questions and
# maintainer scripts) with dpkg-deb; nothing is downloaded.
#   installer/linux/build-deb.sh [--bin PATH] [--out DIR]
# Without --bin it builds the release binary first. Prints the package's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=""
out="$root/target/deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$root" && source scripts/vpx.sh && cargo build --release --locked -p tether-agent "${vpx_features[@]}" >&2)
  bin="$root/target/release/tether-agent"
fi
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/pkg"

install -D -m 755 "$bin" "$stage/usr/bin/tether-agent"
strip --strip-unneeded "$stage/usr/bin/tether-agent"
install -D -m 644 "$here/tether-agent.service" "$stage/lib/systemd/system/tether-agent.service"
install -D -m 644 /dev/null "$stage/usr/share/doc/tether-agent/copyright"
printf 'Tether agent\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' \
  > "$stage/usr/share/doc/tether-agent/copyright"

# The shared libraries the binary links decide the dependencies (libvpx differs per release).
mkdir -p "$work/debian"
printf 'Source: tether\n\nPackage: tether-agent\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e "$stage/usr/bin/tether-agent" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "error: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d -m 755 "$stage/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
  "$here/debian/control.in" > "$stage/DEBIAN/control"
install -m 644 "$here/debian/templates" "$stage/DEBIAN/templates"
for s in config postinst prerm postrm; do
  install -m 755 "$here/debian/$s" "$stage/DEBIAN/$s"
done

mkdir -p "$out"
deb="$out/tether-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" >/dev/null
echo "$deb"
