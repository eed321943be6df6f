#!/usr/bin/env bash
# Builds a Linux package with dpkg-deb; nothing is downloaded.
#   installer/linux/build-deb.sh [--package agent|relay] [--bin PATH] [--out DIR]
# agent (the default): the agent, its hardened systemd unit, debconf questions and maintainer
# scripts that enroll the machine. relay: the relay, its hardened unit running as the
# tether-relay user, and a default configuration in /etc/tether-relay.
# Without --bin it builds the release binary first. Prints the package's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
package=agent
bin=""
out="$root/target/deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --package) package=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--package agent|relay] [--bin PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$package" in
  agent) name=tether-agent; src="$here"; scripts="config postinst prerm postrm" ;;
  relay) name=tether-relay; src="$here/relay"; scripts="postinst prerm postrm" ;;
  *) echo "error: --package is agent or relay" >&2; exit 2 ;;
esac
if [ -z "$bin" ]; then
  if [ "$package" = relay ]; then
    (cd "$root" && scripts/build-web.sh >&2 && cargo build --release --locked -p tether-relay >&2)
  else
    (cd "$root" && source scripts/vpx.sh && cargo build --release --locked -p tether-agent "${vpx_features[@]}" >&2)
  fi
  bin="$root/target/release/$name"
fi
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/pkg"

install -D -m 755 "$bin" "$stage/usr/bin/$name"
strip --strip-unneeded "$stage/usr/bin/$name"
install -D -m 644 "$src/$name.service" "$stage/lib/systemd/system/$name.service"
install -D -m 644 /dev/null "$stage/usr/share/doc/$name/copyright"
printf 'Tether %s\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' "$package" \
  > "$stage/usr/share/doc/$name/copyright"

# The shared libraries the binary links decide the dependencies (libvpx differs per release).
mkdir -p "$work/debian"
printf 'Source: tether\n\nPackage: %s\nArchitecture: any\n' "$name" > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e "$stage/usr/bin/$name" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "error: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d -m 755 "$stage/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
  "$src/debian/control.in" > "$stage/DEBIAN/control"
for s in $scripts; do
  install -m 755 "$src/debian/$s" "$stage/DEBIAN/$s"
done
if [ "$package" = agent ]; then
  install -m 644 "$src/debian/templates" "$stage/DEBIAN/templates"
else
  # The configuration is the administrator's once installed: upgrades keep their changes.
  install -D -m 640 "$src/relay.toml" "$stage/etc/tether-relay/relay.toml"
  echo /etc/tether-relay/relay.toml > "$stage/DEBIAN/conffiles"
fi

mkdir -p "$out"
deb="$out/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" >/dev/null
echo "$deb"
