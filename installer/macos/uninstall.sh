#!/bin/sh
# Removes the Tether agent: stops the LaunchDaemon, revokes the machine at the relay when it can
# be reached, and deletes the binary, key, configuration and receipts. Run as root:
#   sudo /usr/local/share/tether/uninstall.sh
set -u
launchctl bootout system/com.tether.agent 2>/dev/null || true
if [ -e "/Library/Application Support/Tether/agent.toml" ]; then
    /usr/local/bin/tether-agent unenroll --system || true
fi
rm -f /Library/LaunchDaemons/com.tether.agent.plist /usr/local/bin/tether-agent
rm -rf "/Library/Application Support/Tether" /Library/Logs/Tether /usr/local/share/tether
pkgutil --forget com.tether.agent >/dev/null 2>&1 || true
echo "Tether agent removed."
