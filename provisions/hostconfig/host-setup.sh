#!/bin/bash
# Edge host set-up, shipped over SSH by the portal (provisions/hostconfig). Idempotent: every
# step checks before it changes, so running it again (retry, resumed job) converges.
# Inputs (environment, quoted by the portal): ONE_BRIDGE, ONE_BRIDGE_CIDR, ONE_PUBLIC_IF;
# isolation: ONE_SUBID_START, ONE_SUBID_COUNT (the containers' id range), ONE_HOST_RESERVED_MB
# (memory kept for the host itself), ONE_VMS_PIDS_MAX (process slots all containers share).
# Host state lives under ONE_EDGE_BASE (default /var/lib/one-edge; lab hosts get their own).
# Every host of every deploy pays this script's CPU (on a 1-vCPU droplet too): checks are made
# with bash itself and changes batched (one ip, one iptables-restore), so that a host already
# configured starts a handful of processes, not the eighty-odd one command per check would.
set -euo pipefail
VERSION=2
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
BRIDGE="${ONE_BRIDGE:-onebr0}"
BRIDGE_CIDR="${ONE_BRIDGE_CIDR:-192.168.150.1/24}"
PUBLIC_IF="${ONE_PUBLIC_IF:-eth0}"
# @include steps.sh
# @include files.sh
# @include isolation.sh

step "base directory $BASE"
[ -d "$BASE/run" ] && [ -d "$BASE/lxc" ] && [ -d "$BASE/images" ] \
    || mkdir -p "$BASE/lxc" "$BASE/images" "$BASE/run"

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
# What the host scripts run, by the package that brings it (curl fetches the VMs' images,
# restic writes their backups).
MISSING=()
for NEED in lxc-start:lxc iptables:iptables ip:iproute2 curl:curl restic:restic; do
    command -v "${NEED%%:*}" >/dev/null 2>&1 || MISSING+=("${NEED#*:}")
done
if [ "${#MISSING[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "PACKAGES installing ${MISSING[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${MISSING[@]}" >/dev/null
    else
        echo "ERROR: ${MISSING[*]} not installed and this host has no apt-get to install them" >&2
        exit 3
    fi
fi
# The version, asked of lxc-start once per installed binary (its path from bash's own lookup).
hash lxc-start
one_read_cached "$BASE/lxc.version" "${BASH_CMDS[lxc-start]}"
LXC_VERSION=$ONE_CACHED
if [ -z "$LXC_VERSION" ]; then
    LXC_VERSION=$(lxc-start --version)
    echo "$LXC_VERSION" > "$BASE/lxc.version"
fi
echo "LXC_VERSION $LXC_VERSION"

step "bridge $BRIDGE $BRIDGE_CIDR"
# Checked here because ip's batch input and iptables-restore's are split on blanks, unquoted.
[[ "$BRIDGE" =~ ^[A-Za-z0-9_.-]{1,15}$ && "$PUBLIC_IF" =~ ^[A-Za-z0-9_.@-]{1,15}$ ]] || {
    echo "ERROR bad interface name $BRIDGE / $PUBLIC_IF" >&2
    exit 2
}
[[ "$BRIDGE_CIDR" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] \
    && (( BASH_REMATCH[5] >= 1 && BASH_REMATCH[5] <= 30 )) || {
    echo "ERROR bad bridge address $BRIDGE_CIDR (want a.b.c.d/len)" >&2
    exit 2
}
# The bridge's subnet (what its containers masquerade from), worked out by bash.
LEN=${BASH_REMATCH[5]}
ADDR=$(( BASH_REMATCH[1] << 24 | BASH_REMATCH[2] << 16 | BASH_REMATCH[3] << 8 | BASH_REMATCH[4] ))
NET=$(( ADDR & ~((1 << (32 - LEN)) - 1) & 0xFFFFFFFF ))
SUBNET="$(( NET >> 24 )).$(( NET >> 16 & 255 )).$(( NET >> 8 & 255 )).$(( NET & 255 ))/$LEN"
BATCH=""
[ -d "/sys/class/net/$BRIDGE" ] || BATCH="link add $BRIDGE type bridge"$'\n'
ip -batch - <<<"${BATCH}addr replace $BRIDGE_CIDR dev $BRIDGE"$'\n'"link set $BRIDGE up"

step "forwarding"
echo 1 > /proc/sys/net/ipv4/ip_forward

step "iptables chains"
# What is there, read by one iptables-save; what is missing, added by one iptables-restore. A chain
# is declared only when absent: declaring one that exists empties it (ONE-PORTFWD holds the
# VMs' forwards). Rules are compared in iptables-save's own spelling.
SAVED=$'\n'"$(iptables-save)"$'\n'
one_table() {  # $1 table: its section of SAVED into TABLE, "" where it is not there yet
    TABLE=""  # set, not printed: a $(...) would fork the shell for each table
    [[ "$SAVED" == *$'\n'"*$1"$'\n'* ]] || return 0
    TABLE=${SAVED#*$'\n'"*$1"$'\n'}
    TABLE=$'\n'"${TABLE%%$'\n'COMMIT$'\n'*}"$'\n'
}
one_table nat
NAT=$TABLE
one_table filter
FILTER=$TABLE
CHANGES=""
one_chain() {  # $1 saved table, $2 chain
    [[ "$1" == *$'\n'":$2 "* ]] || CHANGES+=":$2 - [0:0]"$'\n'
}
one_rule() {  # $1 saved table, $2 rule as iptables-save prints it
    [[ "$1" == *$'\n'"$2"$'\n'* ]] || CHANGES+="$2"$'\n'
}
RESTORE="*nat"$'\n'
one_chain "$NAT" ONE-PORTFWD
one_chain "$NAT" ONE-MASQ
one_rule "$NAT" "-A PREROUTING -j ONE-PORTFWD"
one_rule "$NAT" "-A OUTPUT -j ONE-PORTFWD"
one_rule "$NAT" "-A POSTROUTING -j ONE-MASQ"
one_rule "$NAT" "-A ONE-MASQ -s $SUBNET -o $PUBLIC_IF -j MASQUERADE"
RESTORE+="${CHANGES}COMMIT"$'\n'"*filter"$'\n'
NAT_CHANGES=$CHANGES CHANGES=""
one_chain "$FILTER" ONE-FORWARD
one_rule "$FILTER" "-A FORWARD -j ONE-FORWARD"
one_rule "$FILTER" "-A ONE-FORWARD -o $BRIDGE -j ACCEPT"
one_rule "$FILTER" "-A ONE-FORWARD -i $BRIDGE -j ACCEPT"
RESTORE+="${CHANGES}COMMIT"
if [ -n "$NAT_CHANGES$CHANGES" ]; then
    iptables-restore --noflush <<<"$RESTORE"
    ADDED="$NAT_CHANGES${CHANGES%$'\n'}"
    echo "IPTABLES added what was missing: ${ADDED//$'\n'/ }"
fi

step "subordinate ids"
SUBID_START="${ONE_SUBID_START:-600100001}"
SUBID_COUNT="${ONE_SUBID_COUNT:-65536}"
[[ "$SUBID_START" =~ ^[0-9]+$ && "$SUBID_COUNT" =~ ^[0-9]+$ ]] || {
    echo "ERROR bad id range $SUBID_START $SUBID_COUNT" >&2
    exit 2
}
# Registered for root (who runs LXC) so that no account added later is given ids inside it.
one_has_line() {  # $1 file, $2 line: is it there, read by bash (no grep per check)
    one_read_whole "$1"
    [[ $'\n'"$ONE_TEXT"$'\n' == *$'\n'"$2"$'\n'* ]]
}
for FILE in /etc/subuid /etc/subgid; do
    one_has_line "$FILE" "root:$SUBID_START:$SUBID_COUNT" \
        || echo "root:$SUBID_START:$SUBID_COUNT" >> "$FILE"
done
one_replace_file "$BASE/idmap" "$SUBID_START $SUBID_COUNT" || true
one_traversable "$BASE/lxc/x" "$SUBID_START"
echo "IDMAP root:$SUBID_START:$SUBID_COUNT"

step "container cgroup"
RESERVED_MB="${ONE_HOST_RESERVED_MB:-0}"
PIDS_MAX="${ONE_VMS_PIDS_MAX:-32768}"
[[ "$RESERVED_MB" =~ ^[0-9]+$ && "$PIDS_MAX" =~ ^[0-9]+$ ]] || {
    echo "ERROR bad host reserve $RESERVED_MB / $PIDS_MAX" >&2
    exit 2
}
TOTAL_KB=0
while read -r KEY VALUE _; do
    [ "$KEY" = MemTotal: ] && { TOTAL_KB=$VALUE; break; }
done < /proc/meminfo
TOTAL_MB=$(( TOTAL_KB / 1024 ))
# Kept for the host: the reserve asked for, and at least 256 MB or a tenth of the memory.
KEEP_MB=$(( TOTAL_MB / 10 > 256 ? TOTAL_MB / 10 : 256 ))
[ "$RESERVED_MB" -le "$KEEP_MB" ] || KEEP_MB="$RESERVED_MB"
[ "$KEEP_MB" -lt "$TOTAL_MB" ] || KEEP_MB=$(( TOTAL_MB / 2 ))
# One parent cgroup per host; lab hosts share one machine's hierarchy, so the name carries a
# digest of the base directory unless it is the default one.
if [ "$BASE" = "$ONE_EDGE_DEFAULT_BASE" ]; then
    PARENT=one-edge
else
    # FNV-1a (64 bits) of the path, by bash: no sha1sum and subshell on every run.
    HASH=-3750763034362895579  # the offset basis 0xcbf29ce484222325, as bash's signed 64 bits
    for ((I = 0; I < ${#BASE}; I++)); do
        printf -v CODE '%d' "'${BASE:I:1}"
        (( HASH = (HASH ^ CODE) * 1099511628211 ))
    done
    printf -v DIGEST '%016x' "$HASH"
    PARENT="one-edge-${DIGEST:0:12}"
fi
CGROUP_ENV="CG_PARENT=$PARENT
CG_MEMORY_MAX=$(( (TOTAL_MB - KEEP_MB) * 1024 * 1024 ))
CG_PIDS_MAX=$PIDS_MAX
CG_CPU_WEIGHT=100"
one_replace_file "$BASE/cgroup.env" "$CGROUP_ENV" || true
one_cgroup_parent
if one_apparmor; then echo "APPARMOR enabled: containers get LXC's generated profile"; else
    echo "APPARMOR not available on this kernel: containers run without a profile"; fi

echo "$VERSION" > "$BASE/hostconfig.version"

step "capacity"
# CPUs this host's processes may use, as nproc counts them (the affinity list), read by bash.
CPUS=0
one_read_whole /proc/self/status
PATTERN=$'\n''Cpus_allowed_list:[[:blank:]]*([0-9,-]+)'
if [[ "$ONE_TEXT" =~ $PATTERN ]]; then
    IFS=, read -ra RANGES <<<"${BASH_REMATCH[1]}"
    for RANGE in "${RANGES[@]}"; do
        CPUS=$(( CPUS + ${RANGE#*-} - ${RANGE%-*} + 1 ))
    done
fi
[ "$CPUS" -gt 0 ] || CPUS=$(nproc)
# The disk the VMs' disks live on: the base directory's filesystem.
DISK_MB=$(df -Pm "$BASE" | awk 'NR == 2 {print $2}')
echo "CAPACITY cpu=$CPUS memory_mb=$TOTAL_MB disk_mb=${DISK_MB:-0}"
read -r BOOT_ID < /proc/sys/kernel/random/boot_id
echo "BOOT_ID $BOOT_ID"
steps_done
echo "DONE version=$VERSION"
