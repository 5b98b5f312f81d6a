#!/bin/bash
# Deploy one LXC system container (idempotent: every step checks first). Inputs come from the
# environment, each quoted by the portal: VM (one-<id>), IMAGE_URL, IMAGE_RESOLVE, IMAGE_SHA256,
# NICS, IP, MEMORY_MB, CPU_SHARES, DISK_MB (the disk's size: rootfs.sh; empty: unbounded),
# VM_HOSTNAME, PUBLIC_IP, PORT_FIRST, SSH_KEY (optional);
# EXISTING_ONLY=1 (a restart): start a container that is on the host, never create one; a
# container that is not there prints GONE and changes nothing.
# RESTORED: a new container's disk is the one a restore left at $LXCPATH/.restored-$VM.img
# (backups/hostscripts/vm-backup.sh), not a new empty one.
# isolation: PRIVILEGED (1 only when an operator's template says LXC_UNPRIVILEGED = no),
# SWAP_MB (swap on top of MEMORY_MB), CPU_QUOTA_US (per 100 ms period; empty: none), PIDS_MAX.
# IMAGE_RESOLVE: `host:port:address[,address]`, the addresses the portal checked for the URL's
# host (empty when the URL names an address): curl connects to nothing else.
# NICS: one line per NIC, eth0 first: `bridge address/prefix mac mtu gateway` ('-' = none);
# the public NIC is on the host's NAT bridge, private ones on a VXLAN bridge onevx<vni>.
# IP: the public NIC's address, the target of the port forwarding.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
IMAGES="$BASE/images"
DIR="$LXCPATH/$VM"
mkdir -p "$LXCPATH" "$IMAGES"
# @include steps.sh
# @include isolation.sh
# @include rootfs.sh
# One deploy of a container at a time: a job taken over from a lost worker may start while the
# lost worker's script still runs here (its SSH session gone, the script not yet finished).
exec 9>"$LXCPATH/.$VM.lock"
flock 9

if [ -n "${RESTORED:-}" ] && [ "$RESTORED" != "$LXCPATH/.restored-$VM.img" ]; then
    echo "ERROR RESTORED must be $LXCPATH/.restored-$VM.img" >&2
    exit 2
fi
if [ "${EXISTING_ONLY:-0}" = 1 ] && [ ! -f "$DIR/config" ]; then
    echo "GONE $VM is not on this host"
    exit 0
fi

step "image"
one_image_fetch

step "rootfs"
if [ ! -f "$DIR/config" ]; then
    for N in MEMORY_MB CPU_SHARES SWAP_MB PIDS_MAX; do
        [[ "${!N:-}" =~ ^[0-9]+$ ]] || { echo "ERROR $N must be a number" >&2; exit 2; }
    done
    for N in CPU_QUOTA_US DISK_MB; do
        [[ "${!N:-}" =~ ^[0-9]*$ ]] || { echo "ERROR $N must be a number" >&2; exit 2; }
    done
    # What an earlier, unfinished attempt left (its overlay unmounted before it goes).
    one_rootfs_unmount "$DIR"
    rm -rf "$DIR"
    if [ "${PRIVILEGED:-0}" = 1 ]; then
        # Asked for by an operator's template (LXC_UNPRIVILEGED = no): ids as in the image.
        ROOT_ID=0
        ID_COUNT=0
        ISOLATION="lxc.include = /usr/share/lxc/config/common.conf"
        echo "ROOTFS privileged (no id map)"
    else
        # Unprivileged: files owned by the host's range (see one_unpack), which the id map
        # below shows to the container as its own root and users.
        read -r ID_START ID_COUNT < <(one_idmap)
        ROOT_ID="$ID_START"
        ISOLATION="lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.idmap = u 0 $ID_START $ID_COUNT
lxc.idmap = g 0 $ID_START $ID_COUNT"
        echo "ROOTFS unprivileged (ids shifted to $ID_START-$(( ID_START + ID_COUNT - 1 )))"
    fi
    one_rootfs_create "$DIR" "$CACHED" "$IMAGE_SHA256" "$ROOT_ID" "$ID_COUNT" "${DISK_MB:-}"
    # LXC's own profile where the kernel has AppArmor (never `unconfined`).
    if one_apparmor; then
        ISOLATION+="
lxc.apparmor.profile = generated
lxc.apparmor.allow_nesting = 0"
    fi
    echo "$VM_HOSTNAME" > "$DIR/rootfs/etc/hostname"
    chown -h "$ROOT_ID:$ROOT_ID" "$DIR/rootfs/etc/hostname"
    if [ -n "${SSH_KEY:-}" ]; then
        mkdir -p -m 700 "$DIR/rootfs/root/.ssh"
        printf '%s\n' "$SSH_KEY" > "$DIR/rootfs/root/.ssh/authorized_keys"
        chmod 600 "$DIR/rootfs/root/.ssh/authorized_keys"
        # Owned by the container's root (the mapped id), or its sshd refuses the key.
        chown -h "$ROOT_ID:$ROOT_ID" "$DIR/rootfs/root/.ssh" "$DIR/rootfs/root/.ssh/authorized_keys"
    fi
    PARENT=$(one_cgroup_parent_name)
    [ -z "$PARENT" ] || ISOLATION+="
lxc.cgroup.dir = $PARENT/$VM"
    if ! one_cgroup_v2; then
        LIMITS="lxc.cgroup.memory.limit_in_bytes = ${MEMORY_MB}M"
        [ ! -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] || LIMITS+="
lxc.cgroup.memory.memsw.limit_in_bytes = $(( MEMORY_MB + SWAP_MB ))M"
        LIMITS+="
lxc.cgroup.cpu.shares = $CPU_SHARES
lxc.cgroup.pids.max = $PIDS_MAX"
        [ -z "${CPU_QUOTA_US:-}" ] || LIMITS+="
lxc.cgroup.cpu.cfs_period_us = 100000
lxc.cgroup.cpu.cfs_quota_us = $CPU_QUOTA_US"
    else
        LIMITS="lxc.cgroup2.memory.max = ${MEMORY_MB}M"
        # Swap accounting (memory.swap.max) exists where the kernel has it; look at a cgroup
        # below the root (the root has no memory.* files).
        if [ -n "$PARENT" ] && [ -f "/sys/fs/cgroup/$PARENT/memory.swap.max" ] \
            || compgen -G "/sys/fs/cgroup/*/memory.swap.max" >/dev/null; then
            LIMITS+="
lxc.cgroup2.memory.swap.max = ${SWAP_MB}M"
        fi
        LIMITS+="
lxc.cgroup2.cpu.weight = $(( CPU_SHARES * 100 / 1024 > 0 ? CPU_SHARES * 100 / 1024 : 1 ))
lxc.cgroup2.pids.max = $PIDS_MAX"
        [ -z "${CPU_QUOTA_US:-}" ] || LIMITS+="
lxc.cgroup2.cpu.max = $CPU_QUOTA_US 100000"
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
$ISOLATION
lxc.arch = x86_64
lxc.uts.name = $VM_HOSTNAME
lxc.rootfs.path = dir:$DIR/rootfs
$ROOTFS_CONF
lxc.init.cmd = /sbin/init
lxc.tty.max = 1
$NETCONF
$LIMITS
CONF
    mv "$DIR/config.new" "$DIR/config"
fi

step "start"
if [[ "$(lxc-info -P "$LXCPATH" -n "$VM" -s 2>/dev/null || true)" != *RUNNING* ]]; then
    one_disk_mount "$DIR"
    one_before_start "$DIR"
    if ! lxc-start -P "$LXCPATH" -n "$VM" --logfile "$DIR/lxc.log" --logpriority NOTICE; then
        grep -E "ERROR" "$DIR/lxc.log" | head -n 4 >&2
        exit 5
    fi
fi
lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30

step "ports"
CHAIN="ONE-$VM"
if [ -n "${PORT_FIRST:-}" ]; then
    LAST=$(( PORT_FIRST + 99 ))
    # One iptables-restore for the whole change: declaring the chain with --noflush creates it
    # or empties it, and the rules land in one transaction (each iptables run reads and writes
    # the whole table, and they queue behind each other's lock when deploys run at once).
    RULES="*nat
:$CHAIN - [0:0]"
    for PROTO in tcp udp; do
        RULES+="
-A $CHAIN -d $PUBLIC_IP/32 -p $PROTO --dport $PORT_FIRST:$LAST -j DNAT --to-destination $IP:1-100/$PORT_FIRST"
    done
    iptables -t nat -C ONE-PORTFWD -j "$CHAIN" 2>/dev/null || RULES+="
-A ONE-PORTFWD -j $CHAIN"
    iptables-restore --noflush <<<"$RULES
COMMIT"
    echo "PORTS $PUBLIC_IP:$PORT_FIRST-$LAST -> $IP:1-100"
fi
steps_done
echo "DONE $VM"
