#!/usr/bin/env bash
# Installs, from Debian's packages, every program runbook drives and its tests need, on a
# fresh Debian/Ubuntu machine (as root). The README's quick start and CI (.ci/run) both run it,
# so the two can never disagree.
#
#   iproute2 (ip), iputils-ping (ping), iptables, util-linux (unshare, nsenter, taskset, flock),
#   procps (sysctl): what the runbooks and sandbox hosts use.
#   zsh: the completion tests drive the zsh script too.
#   graphviz (dot), fonts-dejavu-core: `runbook topology --format svg` lays its picture out with
#   dot, in DejaVu Sans Mono (the pictures in docs/ are compared with what this dot draws);
#   librsvg2-bin (rsvg-convert): the test that opens that SVG as an image.
#   ansible-core, openssh-server, openssh-client: the fleet test (test/fleet) applies runbooks
#   with ansible-playbook over real SSH to sshds it starts inside sandbox hosts.
#   podman, containernetworking-plugins, runc, busybox-static: the CNI tests (test/cni) run real
#   containers on a runbook's network, and the reference bridge plugin beside it (docs/cni.md).
#   python3-voluptuous, python3-venv: ansible-test's validate-modules on the Ansible collection
#   (test/fleet/collection.test.ts), offline.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: run as root (apt-get install)" >&2
  exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  iproute2 iputils-ping iptables util-linux procps zsh graphviz fonts-dejavu-core librsvg2-bin

# Installing openssh-server must never start this machine's own sshd: a policy-rc.d that
# answers 101 ("action forbidden") stops the package scripts from starting it. One that is
# already there is the machine owner's and is left alone.
policy=/usr/sbin/policy-rc.d
ours=false
had_sshd=false
dpkg -s openssh-server >/dev/null 2>&1 && had_sshd=true
had_podman=false
dpkg -s podman >/dev/null 2>&1 && had_podman=true
# (A kill -9 during the install would leave our policy-rc.d behind; it only says "exit 101" and
# blocks service starts by package scripts until removed: rm /usr/sbin/policy-rc.d.)
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  ours=true
fi
trap '[ "$ours" = true ] && rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  ansible-core openssh-server openssh-client python3-voluptuous python3-venv \
  podman containernetworking-plugins runc busybox-static
# Nor at the next boot: the package enables ssh.service; a machine that had no sshd keeps none.
if [ "$had_sshd" = false ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
fi
# The same for podman's API socket, restart and auto-update units: the tests run podman as a plain command.
if [ "$had_podman" = false ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable podman.socket podman.service podman-restart.service podman-auto-update.timer podman-auto-update.service >/dev/null 2>&1 || true
fi
