#!/bin/bash
# Edge host set-up, shipped over SSH by the portal (provisions/hostconfig). Idempotent: every
# step checks before it changes, so running it again (retry, resumed job) converges.
# Inputs (environment, quoted by the portal): ONE_BRIDGE, ONE_BRIDGE_CIDR, ONE_PUBLIC_IF.
# Host state lives under ONE_EDGE_BASE (default /var/lib/one-edge; lab hosts get their own).
set -euo pipefail
VERSION=1
BASE="${ONE_EDGE_BASE:-/var/lib/one-edge}"
BRIDGE="${ONE_BRIDGE:-onebr0}"
BRIDGE_CIDR="${ONE_BRIDGE_CIDR:-192.168.150.1/24}"
PUBLIC_IF="${ONE_PUBLIC_IF:-eth0}"
step() { echo "STEP $*"; }

step "base directory $BASE"
mkdir -p "$BASE/lxc" "$BASE/images" "$BASE/run"

step "LXC"
if ! command -v lxc-start >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq lxc iptables iproute2 >/dev/null
    else
        echo "ERROR: LXC is not installed and this host has no apt-get to install it" >&2
        exit 3
    fi
fi
echo "LXC_VERSION $(lxc-start --version)"

step "bridge $BRIDGE $BRIDGE_CIDR"
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
ip addr replace "$BRIDGE_CIDR" dev "$BRIDGE"
ip link set "$BRIDGE" up

step "forwarding"
sysctl -qw net.ipv4.ip_forward=1

step "iptables chains"
SUBNET=$(ip -4 route show dev "$BRIDGE" scope link | awk '{print $1; exit}')
iptables -t nat -N ONE-PORTFWD 2>/dev/null || true
iptables -t nat -C PREROUTING -j ONE-PORTFWD 2>/dev/null || iptables -t nat -A PREROUTING -j ONE-PORTFWD
iptables -t nat -C OUTPUT -j ONE-PORTFWD 2>/dev/null || iptables -t nat -A OUTPUT -j ONE-PORTFWD
iptables -t nat -N ONE-MASQ 2>/dev/null || true
iptables -t nat -C POSTROUTING -j ONE-MASQ 2>/dev/null || iptables -t nat -A POSTROUTING -j ONE-MASQ
iptables -t nat -C ONE-MASQ -s "$SUBNET" -o "$PUBLIC_IF" -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A ONE-MASQ -s "$SUBNET" -o "$PUBLIC_IF" -j MASQUERADE
iptables -N ONE-FORWARD 2>/dev/null || true
iptables -C FORWARD -j ONE-FORWARD 2>/dev/null || iptables -A FORWARD -j ONE-FORWARD
iptables -C ONE-FORWARD -o "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -A ONE-FORWARD -o "$BRIDGE" -j ACCEPT
iptables -C ONE-FORWARD -i "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -A ONE-FORWARD -i "$BRIDGE" -j ACCEPT

echo "$VERSION" > "$BASE/hostconfig.version"

step "capacity"
echo "CAPACITY cpu=$(nproc) memory_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))"
echo "DONE version=$VERSION"
