#!/usr/bin/env bash
# Sets up a whole Tether cluster on one Debian/Ubuntu machine from Debian packages: PostgreSQL,
# Redis, coturn, three relays (tether-relay@8081..8083) and haproxy on :8080 in front.
#   sudo deploy/cluster/setup-one-machine.sh ./tether-relay_<version>_<arch>.deb [public-host]
# Safe to run again: passwords and secrets already made are kept. See docs/DEPLOY.md
# ("Several relays as one") for the same layout over several machines.
set -euo pipefail
deb=${1:?usage: $0 path/to/tether-relay.deb [public-host]}
host=${2:-$(hostname -f)}
here=$(cd "$(dirname "$0")" && pwd)
secret() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q postgresql redis-server haproxy coturn "$deb"
systemctl disable --now tether-relay.service 2>/dev/null || true

env=/etc/tether-relay/cluster.env
if [ ! -f "$env" ]; then
  db_password=$(secret); redis_password=$(secret)
  runuser -u postgres -- psql -q -c "CREATE ROLE \"tether-relay\" LOGIN PASSWORD '$db_password'"
  runuser -u postgres -- createdb --owner tether-relay tether
  printf 'TETHER_DATABASE_URL=postgres://tether-relay:%s@127.0.0.1/tether?sslmode=disable\nTETHER_REDIS_URL=redis://:%s@127.0.0.1:6379/\n' \
    "$db_password" "$redis_password" > "$env"
  chown root:tether-relay "$env"; chmod 0640 "$env"
  sed -i "s/^# *requirepass .*/requirepass $redis_password/" /etc/redis/redis.conf
  systemctl restart redis-server
fi

# coturn relays media for every relay with one shared secret; the relays' own TURN is off.
if ! grep -q '^static-auth-secret=' /etc/turnserver.conf 2>/dev/null; then
  turn_secret=$(secret)
  printf 'listening-port=3478\nuse-auth-secret\nstatic-auth-secret=%s\nrealm=%s\nno-cli\n' \
    "$turn_secret" "$host" >> /etc/turnserver.conf
  # Each relay's address comes from its unit (serve --listen 127.0.0.1:<port>).
  cp -n /etc/tether-relay/relay.toml /etc/tether-relay/relay.toml.single
  cat > /etc/tether-relay/relay.toml <<TOML
# Written by deploy/cluster/setup-one-machine.sh; the single-relay file is relay.toml.single.
data_dir = "/var/lib/tether-relay"
public_url = "http://$host:8080"
trusted_proxies = ["127.0.0.1/32"]

[turn]
enabled = false
secret = "$turn_secret"
urls = ["turn:$host:3478?transport=udp", "turn:$host:3478?transport=tcp"]
TOML
  chmod 0644 /etc/tether-relay/relay.toml
fi
systemctl enable --now coturn

# One relay key for all: it signs share codes, TURN credentials and webhook secrets.
install -d -o tether-relay -g tether-relay -m 0700 /var/lib/tether-relay
install -m 0644 "$here/tether-relay@.service" /etc/systemd/system/
install -m 0644 "$here/haproxy.cfg" /etc/haproxy/haproxy.cfg
systemctl daemon-reload
systemctl enable --now tether-relay@8081
# The first relay creates the key and migrates the database; the others start after it.
until [ -s /var/lib/tether-relay/relay.key ]; do sleep 0.2; done
systemctl enable --now tether-relay@8082 tether-relay@8083 haproxy
echo "Tether cluster up on http://$host:8080. First administrator:"
echo "  set -a; . $env; set +a; tether-relay --config /etc/tether-relay/relay.toml admin create-user --email you@example.com --org 'Your Org' --role owner"
