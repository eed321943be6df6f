#!/usr/bin/env bash
# Sets up and runs Tether on this machine with embedded defaults: builds in release mode, creates
# a demo organisation and account on first run (printing the sign-in), starts the relay in the
# background and an agent sharing this computer in the foreground. The agent prints the share
# code and asks for consent here when a supporter connects.
#   TETHER_DATA_DIR  where the database and key live (default ./tether-data)
#   TETHER_LISTEN    the relay's address (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh build
source scripts/vpx.sh
scripts/build-web.sh
cargo build --release --locked -p tether-relay -p tether-agent "${vpx_features[@]}"
relay=target/release/tether-relay
agent=target/release/tether-agent
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

"$relay" --data-dir "$data" serve --listen "$listen" >"$data/relay.log" 2>&1 &
relay_pid=$!
trap 'kill $relay_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  kill -0 $relay_pid 2>/dev/null || { cat "$data/relay.log"; exit 1; }
  sleep 0.1
done

echo
echo "Tether relay: http://$listen   (log: $data/relay.log)"
echo "Supporters open http://$listen in a browser, sign in and type the share code below."
echo "Supporters sign in with ($data/demo-login.txt):"
sed 's/^/  /' "$data/demo-login.txt"
echo "Press Ctrl+C to stop."
echo
"$agent" share --relay "http://$listen"
