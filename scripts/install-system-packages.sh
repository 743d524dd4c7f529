#!/usr/bin/env bash
# The system tools runbook drives and its tests need, from Debian/Ubuntu packages:
# ip (iproute2), ping (iputils-ping), iptables, unshare/nsenter (util-linux), sysctl (procps).
# Used by the README's quick start and by CI, so that both start from the same bare machine.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: run as root (apt-get installs system packages)" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 iputils-ping iptables util-linux procps
