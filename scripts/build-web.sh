#!/usr/bin/env bash
# Builds the browser viewer into web/dist, which the relay embeds when it is compiled (build the
# relay after this). Needs Node.js 18+ and npm; packages come from the npm registry, pinned by
# web/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
