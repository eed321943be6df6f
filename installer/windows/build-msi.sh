#!/usr/bin/env bash
# Builds the agent's MSI with msitools' wixl (Debian/Ubuntu: apt-get install wixl msitools):
#   installer/windows/build-msi.sh --exe PATH/tether-agent.exe [--out DIR]
# Prints the package's path. scripts/cross.sh builds it from the cross-built agent and installs
# it under Wine; .github/workflows/build.yml builds the release one. Unsigned; docs/DEPLOY.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exe=""
out="$root/target/msi"
while [ $# -gt 0 ]; do
  case "$1" in
    --exe) exe=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 --exe PATH [--out DIR]" >&2; exit 2 ;;
  esac
done
[ -f "$exe" ] || { echo "error: --exe must name tether-agent.exe" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$out"
msi="$(cd "$out" && pwd)/tether-agent-$version.msi"
wixl --arch x64 -D "Version=$version" -D "AgentExe=$exe" -o "$msi" "$here/tether-agent.wxs" >&2
# What wixl cannot say, set in its tables: msidbCustomActionTypeHideTarget (0x2000) on the
# enrollment, whose command line carries the token, so a verbose install log does not show it;
# and the two properties as secure (passed to the elevated install whoever starts it).
msibuild "$msi" -q "UPDATE CustomAction SET Type = 11346 WHERE Action = 'EnrollAgent' AND Type = 3154"
secure=$(msiinfo export "$msi" Property | tr -d '\r' | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')
msibuild "$msi" -q "UPDATE Property SET Value = '$secure;RELAY_URL;ENROLL_TOKEN' WHERE Property = 'SecureCustomProperties'"
msiinfo export "$msi" CustomAction | grep -q "^EnrollAgent	11346	" ||
  { echo "error: the enrollment is not marked HideTarget" >&2; exit 1; }
echo "$msi"
