#!/usr/bin/env bash
# Sets up and runs Tether on this machine with embedded defaults: builds in release mode, creates
# a demo organisation and account on first run (printing the sign-in), and starts the relay.
# The agent sharing this display joins here as it lands.
#   TETHER_DATA_DIR  where the database and key live (default ./tether-data)
#   TETHER_LISTEN    the relay's address (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh build
cargo build --release --locked -p tether-relay
relay=target/release/tether-relay
data=${TETHER_DATA_DIR:-tether-data}
listen=${TETHER_LISTEN:-127.0.0.1:8080}

if [ ! -s "$data/demo-login.txt" ]; then
  mkdir -p "$data"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  echo "$password" | "$relay" --data-dir "$data" admin create-user \
    --email demo@tether.local --org "Demo" --role owner --name "Demo Supporter" >/dev/null
  umask 077
  printf 'email: demo@tether.local\npassword: %s\n' "$password" >"$data/demo-login.txt"
fi

echo
echo "Tether relay: http://$listen"
echo "Sign in with ($data/demo-login.txt):"
sed 's/^/  /' "$data/demo-login.txt"
echo "Press Ctrl+C to stop."
exec "$relay" --data-dir "$data" serve --listen "$listen"
