#!/bin/bash
# Edge host set-up, shipped over SSH by the portal (provisions/hostconfig). Idempotent: every
# step checks before it changes, so running it again (retry, resumed job) converges.
# Inputs (environment, quoted by the portal): ONE_BRIDGE, ONE_BRIDGE_CIDR, ONE_PUBLIC_IF;
# isolation: ONE_SUBID_START, ONE_SUBID_COUNT (the containers' id range), ONE_HOST_RESERVED_MB
# (memory kept for the host itself), ONE_VMS_PIDS_MAX (process slots all containers share).
# Host state lives under ONE_EDGE_BASE (default /var/lib/one-edge; lab hosts get their own).
set -euo pipefail
VERSION=2
BASE="${ONE_EDGE_BASE:-/var/lib/one-edge}"
BRIDGE="${ONE_BRIDGE:-onebr0}"
BRIDGE_CIDR="${ONE_BRIDGE_CIDR:-192.168.150.1/24}"
PUBLIC_IF="${ONE_PUBLIC_IF:-eth0}"
step() { echo "STEP $*"; }
# @include isolation.sh

step "base directory $BASE"
mkdir -p "$BASE/lxc" "$BASE/images" "$BASE/run"

step "cloud-init"
# The droplet's user data starts installing the packages at boot (provisions/cloud_init.py):
# wait for that to end, so apt never runs twice at once; what it could not install is installed
# below. /run/cloud-init exists once cloud-init has started (never on the lab's hosts).
if [ -d /run/cloud-init ] && command -v cloud-init >/dev/null 2>&1; then
    if timeout 900 cloud-init status --wait >/dev/null 2>&1; then
        echo "CLOUD_INIT done"
    else
        echo "CLOUD_INIT unfinished or failed: installing what is missing" >&2
    fi
fi

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

step "subordinate ids"
SUBID_START="${ONE_SUBID_START:-600100001}"
SUBID_COUNT="${ONE_SUBID_COUNT:-65536}"
[[ "$SUBID_START" =~ ^[0-9]+$ && "$SUBID_COUNT" =~ ^[0-9]+$ ]] || {
    echo "ERROR bad id range $SUBID_START $SUBID_COUNT" >&2
    exit 2
}
# Registered for root (who runs LXC) so that no account added later is given ids inside it.
for FILE in /etc/subuid /etc/subgid; do
    touch "$FILE"
    grep -qx "root:$SUBID_START:$SUBID_COUNT" "$FILE" || echo "root:$SUBID_START:$SUBID_COUNT" >> "$FILE"
done
echo "$SUBID_START $SUBID_COUNT" > "$BASE/idmap.new" && mv "$BASE/idmap.new" "$BASE/idmap"
one_traversable "$BASE/lxc/x" "$SUBID_START"
echo "IDMAP root:$SUBID_START:$SUBID_COUNT"

step "container cgroup"
RESERVED_MB="${ONE_HOST_RESERVED_MB:-0}"
PIDS_MAX="${ONE_VMS_PIDS_MAX:-32768}"
[[ "$RESERVED_MB" =~ ^[0-9]+$ && "$PIDS_MAX" =~ ^[0-9]+$ ]] || {
    echo "ERROR bad host reserve $RESERVED_MB / $PIDS_MAX" >&2
    exit 2
}
TOTAL_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
# Kept for the host: the reserve asked for, and at least 256 MB or a tenth of the memory.
KEEP_MB=$(( TOTAL_MB / 10 > 256 ? TOTAL_MB / 10 : 256 ))
[ "$RESERVED_MB" -le "$KEEP_MB" ] || KEEP_MB="$RESERVED_MB"
[ "$KEEP_MB" -lt "$TOTAL_MB" ] || KEEP_MB=$(( TOTAL_MB / 2 ))
# One parent cgroup per host; lab hosts share one machine's hierarchy, so the name carries a
# digest of the base directory unless it is the default one.
if [ "$BASE" = /var/lib/one-edge ]; then
    PARENT=one-edge
else
    PARENT="one-edge-$(printf '%s' "$BASE" | sha1sum | cut -c1-12)"
fi
cat > "$BASE/cgroup.env.new" <<ENV
CG_PARENT=$PARENT
CG_MEMORY_MAX=$(( (TOTAL_MB - KEEP_MB) * 1024 * 1024 ))
CG_PIDS_MAX=$PIDS_MAX
CG_CPU_WEIGHT=100
ENV
mv "$BASE/cgroup.env.new" "$BASE/cgroup.env"
one_cgroup_parent
if one_apparmor; then echo "APPARMOR enabled: containers get LXC's generated profile"; else
    echo "APPARMOR not available on this kernel: containers run without a profile"; fi

echo "$VERSION" > "$BASE/hostconfig.version"

step "capacity"
echo "CAPACITY cpu=$(nproc) memory_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))"
echo "DONE version=$VERSION"
