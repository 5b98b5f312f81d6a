#!/bin/bash
# Deploy one LXC system container (idempotent: every step checks first). Inputs come from the
# environment, each quoted by the portal: VM (one-<id>), IMAGE_URL, IMAGE_RESOLVE, IMAGE_SHA256,
# NICS, IP, MEMORY_MB, CPU_SHARES, VM_HOSTNAME, PUBLIC_IP, PORT_FIRST, SSH_KEY (optional).
# IMAGE_RESOLVE: `host:port:address[,address]`, the addresses the portal checked for the URL's
# host (empty when the URL names an address): curl connects to nothing else.
# NICS: one line per NIC, eth0 first: `bridge address/prefix mac mtu gateway` ('-' = none);
# the public NIC is on the host's NAT bridge, private ones on a VXLAN bridge onevx<vni>.
# IP: the public NIC's address, the target of the port forwarding.
set -euo pipefail
BASE="${ONE_EDGE_BASE:-/var/lib/one-edge}"
LXCPATH="$BASE/lxc"
IMAGES="$BASE/images"
DIR="$LXCPATH/$VM"
mkdir -p "$LXCPATH" "$IMAGES"
step() { echo "STEP $*"; }
# One deploy of a container at a time: a job taken over from a lost worker may start while the
# lost worker's script still runs here (its SSH session gone, the script not yet finished).
exec 9>"$LXCPATH/.$VM.lock"
flock 9

step "image"
CACHED="$IMAGES/$IMAGE_SHA256.tar"
if [ ! -f "$CACHED" ]; then
    TMP="$IMAGES/.download-$VM-$$"
    # http(s) only, no redirect (its target was never checked), no proxy (it would resolve the
    # name itself), and the host name pinned to the checked addresses.
    CURL=(curl -fsS --retry 3 --proto =http,https -L --max-redirs 0 --noproxy '*')
    [ -z "${IMAGE_RESOLVE:-}" ] || CURL+=(--resolve "$IMAGE_RESOLVE")
    "${CURL[@]}" -o "$TMP" "$IMAGE_URL"
    GOT=$(sha256sum "$TMP" | cut -d' ' -f1)
    if [ "$GOT" != "$IMAGE_SHA256" ]; then
        rm -f "$TMP"
        echo "ERROR image checksum mismatch: expected $IMAGE_SHA256, got $GOT" >&2
        exit 4
    fi
    mv "$TMP" "$CACHED"
    echo "IMAGE downloaded and verified"
else
    echo "IMAGE cached"
fi

step "rootfs"
if [ ! -f "$DIR/config" ]; then
    rm -rf "$DIR"
    mkdir -p "$DIR/rootfs"
    tar --numeric-owner -xf "$CACHED" -C "$DIR/rootfs"
    echo "$VM_HOSTNAME" > "$DIR/rootfs/etc/hostname"
    if [ -n "${SSH_KEY:-}" ]; then
        mkdir -p -m 700 "$DIR/rootfs/root/.ssh"
        printf '%s\n' "$SSH_KEY" > "$DIR/rootfs/root/.ssh/authorized_keys"
        chmod 600 "$DIR/rootfs/root/.ssh/authorized_keys"
    fi
    if [ -d /sys/fs/cgroup/memory ] || [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
        LIMITS="lxc.cgroup.memory.limit_in_bytes = ${MEMORY_MB}M
lxc.cgroup.cpu.shares = $CPU_SHARES"
    else
        LIMITS="lxc.cgroup2.memory.max = ${MEMORY_MB}M
lxc.cgroup2.cpu.weight = $(( CPU_SHARES * 100 / 1024 ))"
    fi
    NETCONF=""
    N=0
    while read -r NIC_BRIDGE NIC_ADDRESS NIC_MAC NIC_MTU NIC_GATEWAY; do
        [ -n "$NIC_BRIDGE" ] || continue
        ip link show "$NIC_BRIDGE" >/dev/null 2>&1 || {
            echo "ERROR bridge $NIC_BRIDGE is missing: configure the host's networks first" >&2
            exit 6
        }
        NETCONF+="lxc.net.$N.type = veth
lxc.net.$N.link = $NIC_BRIDGE
lxc.net.$N.flags = up
lxc.net.$N.name = eth$N
lxc.net.$N.veth.pair = v$VM$([ "$N" = 0 ] || echo "n$N")
lxc.net.$N.ipv4.address = $NIC_ADDRESS
"
        [ "$NIC_MAC" = - ] || NETCONF+="lxc.net.$N.hwaddr = $NIC_MAC
"
        [ "$NIC_MTU" = - ] || NETCONF+="lxc.net.$N.mtu = $NIC_MTU
"
        [ "$NIC_GATEWAY" = - ] || NETCONF+="lxc.net.$N.ipv4.gateway = $NIC_GATEWAY
"
        N=$(( N + 1 ))
    done <<<"$NICS"
    cat > "$DIR/config.new" <<CONF
lxc.include = /usr/share/lxc/config/common.conf
lxc.arch = x86_64
lxc.uts.name = $VM_HOSTNAME
lxc.rootfs.path = dir:$DIR/rootfs
lxc.init.cmd = /sbin/init
lxc.apparmor.profile = unconfined
lxc.tty.max = 1
$NETCONF
$LIMITS
CONF
    mv "$DIR/config.new" "$DIR/config"
fi

step "start"
if [[ "$(lxc-info -P "$LXCPATH" -n "$VM" -s 2>/dev/null || true)" != *RUNNING* ]]; then
    if ! lxc-start -P "$LXCPATH" -n "$VM" --logfile "$DIR/lxc.log" --logpriority NOTICE; then
        grep -E "ERROR" "$DIR/lxc.log" | head -n 4 >&2
        exit 5
    fi
fi
lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30

step "port forwarding"
CHAIN="ONE-$VM"
if [ -n "${PORT_FIRST:-}" ]; then
    LAST=$(( PORT_FIRST + 99 ))
    iptables -t nat -N "$CHAIN" 2>/dev/null || iptables -t nat -F "$CHAIN"
    for PROTO in tcp udp; do
        iptables -t nat -A "$CHAIN" -d "$PUBLIC_IP" -p "$PROTO" --dport "$PORT_FIRST:$LAST" \
            -j DNAT --to-destination "$IP:1-100/$PORT_FIRST"
    done
    iptables -t nat -C ONE-PORTFWD -j "$CHAIN" 2>/dev/null || iptables -t nat -A ONE-PORTFWD -j "$CHAIN"
    echo "PORTS $PUBLIC_IP:$PORT_FIRST-$LAST -> $IP:1-100"
fi
echo "DONE $VM"
