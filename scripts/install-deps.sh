#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Tether needs to build and test, by group.
#   scripts/install-deps.sh [build|test|all]   (default: all)
# Safe to run again; does nothing when everything is present.
set -euo pipefail

group=${1:-all}

# Packages per group. Keep names in step with docs/DEPLOY.md and ../shared notes.
# build: X11 capture (scrap links xcb, xcb-shm, xcb-randr); nasm for openh264's assembly (3-4x
# faster); libvpx for VP8; WebKitGTK, GTK, librsvg and the tray library for the desktop app (Tauri).
build_pkgs=(pkg-config build-essential curl nasm libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev libvpx-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev)
# test: a virtual X server, ImageMagick's `import` (reference screenshots), setxkbmap (layouts),
# xclip (clipboard), Chromium for the browser suite, iproute2 for its private network namespace,
# systemd (systemd-analyze), debconf and adduser for the Linux packages' tests, a D-Bus session bus and
# gnome-keyring for the keyring test, WebKitWebDriver and xdg-open (the app hands addresses to the
# default browser with it) and xdotool (to type a path into the system's file picker) for the
# desktop app's UI test; coturn, the external TURN server the relay's pool test and TURN bench
# run beside the embedded one; PostgreSQL, the second store the relay's suites run on, Redis,
# through which the cluster tests' relays route, and haproxy in front of them (each test starts
# its own throwaway servers); ffmpeg (with ffprobe), which decodes what a session recorded and
# makes the fragmented MP4 the browser's recordings test plays.
test_pkgs=(xvfb imagemagick xdotool x11-xkb-utils xauth xclip chromium iproute2 systemd debconf adduser dbus gnome-keyring
  webkit2gtk-driver xdg-utils coturn postgresql redis-server haproxy ffmpeg)

# The web viewer is built with Node.js and npm; use the machine's own when it has one.
command -v node >/dev/null && command -v npm >/dev/null || build_pkgs+=(nodejs npm)

case "$group" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test | all) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

# A libvpx without shipped bindings needs libclang to generate them (scripts/vpx.sh).
if dpkg-query -W -f='${Status}' libvpx-dev 2>/dev/null | grep -q "install ok installed"; then
  source "$(dirname "$0")/vpx.sh"
  [ ${#vpx_features[@]} -eq 0 ] || pkgs+=(libclang-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_get() { $sudo apt-get -o DPkg::Lock::Timeout=600 -q -y "$@"; }

echo "installing: ${missing[*]}"
# Finish any install an earlier run left half done (apt refuses to work until then).
$sudo dpkg --configure -a || true
apt_get update >/dev/null
# This image deletes downloaded .deb files after each dpkg run, and a concurrent apt run can make
# the first attempt fail with exit 100: retry once.
apt_get install --no-install-recommends "${missing[@]}" || apt_get install --no-install-recommends "${missing[@]}"
# Debian starts coturn as a service on 3478, the embedded TURN server's default port: the tests
# start their own coturn, so the system one stays off.
if [[ " ${missing[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null; then
  $sudo systemctl disable --now coturn >/dev/null 2>&1 || true
fi
# Likewise PostgreSQL's, Redis's and haproxy's own servers: the tests start theirs.
for service in postgresql redis-server haproxy; do
  if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done

# First install on a machine with a newer libvpx: libclang is only known to be needed now.
source "$(dirname "$0")/vpx.sh"
if [ ${#vpx_features[@]} -ne 0 ] && ! dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed"; then
  apt_get install --no-install-recommends libclang-dev
fi
