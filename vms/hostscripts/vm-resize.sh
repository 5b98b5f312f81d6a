#!/bin/bash
# Change one container's memory and CPU limits: live (lxc-cgroup) when it runs, and in its
# config file, so that its next start keeps them. Inputs from the environment, each quoted by
# the portal: VM (one-<id>), MEMORY_MB, SWAP_MB (swap on top of the memory), CPU_SHARES
# (cgroup v1 cpu.shares; cgroup v2 cpu.weight is CPU_SHARES * 100 / 1024, as vm-deploy.sh
# makes it), CPU_QUOTA_US (per 100 ms period; empty: no quota).
# Prints BEFORE (what it read) and AFTER (what the cgroup or the config holds now) lines.
# Exit 3 (REFUSED) when the new memory limit is below what the container uses now, 4 when a
# deploy holds the container's lock, 5 when the container is not on this host; nothing is
# changed in those cases.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
DIR="$LXCPATH/$VM"
# @include isolation.sh

[[ "$VM" =~ ^one-[0-9]+$ ]] || { echo "ERROR VM must be one-<id>" >&2; exit 2; }
for N in MEMORY_MB SWAP_MB CPU_SHARES; do
    [[ "${!N:-}" =~ ^[0-9]+$ ]] || { echo "ERROR $N must be a number" >&2; exit 2; }
done
[[ "${CPU_QUOTA_US:-}" =~ ^[0-9]*$ ]] || { echo "ERROR CPU_QUOTA_US must be a number" >&2; exit 2; }
[ -f "$DIR/config" ] || { echo "GONE $VM is not on this host" >&2; exit 5; }
# The deploy's lock: a deploy or another resize of this container waits for this one.
exec 9>"$LXCPATH/.$VM.lock"
flock -w 20 9 || { echo "ERROR $VM is busy: a deploy holds its lock" >&2; exit 4; }

# `--`: a value such as -1 (cgroup v1 quota cleared) is not an option.
cg() { lxc-cgroup -P "$LXCPATH" -n "$VM" -- "$@"; }
RUNNING=0
[[ "$(lxc-info -P "$LXCPATH" -n "$VM" -s 2>/dev/null || true)" != *RUNNING* ]] || RUNNING=1
# Swap is limited where vm-deploy.sh found swap accounting and wrote its line.
SWAP=0
grep -Eq '^lxc\.cgroup2?\.memory\.(swap\.max|memsw\.limit_in_bytes) ' "$DIR/config" && SWAP=1

MEMORY=$(( MEMORY_MB * 1048576 ))
if one_cgroup_v2; then
    PREFIX=lxc.cgroup2
    MEM_KEY=memory.max SWAP_KEY=memory.swap.max USAGE_KEY=memory.current
    WEIGHT=$(( CPU_SHARES * 100 / 1024 ))
    [ "$WEIGHT" -ge 1 ] || WEIGHT=1  # cpu.weight is 1..10000
    CPU_KEYS=(cpu.weight cpu.max)
    declare -A LIVE=([memory.max]=$MEMORY [memory.swap.max]=$(( SWAP_MB * 1048576 ))
        [cpu.weight]=$WEIGHT [cpu.max]="${CPU_QUOTA_US:-max} 100000")
    declare -A CONF=([memory.max]="${MEMORY_MB}M" [memory.swap.max]="${SWAP_MB}M"
        [cpu.weight]=$WEIGHT [cpu.max]="${CPU_QUOTA_US:+$CPU_QUOTA_US 100000}")
else
    PREFIX=lxc.cgroup
    MEM_KEY=memory.limit_in_bytes SWAP_KEY=memory.memsw.limit_in_bytes USAGE_KEY=memory.usage_in_bytes
    CPU_KEYS=(cpu.shares cpu.cfs_period_us cpu.cfs_quota_us)
    declare -A LIVE=([memory.limit_in_bytes]=$MEMORY
        [memory.memsw.limit_in_bytes]=$(( (MEMORY_MB + SWAP_MB) * 1048576 ))
        [cpu.shares]=$CPU_SHARES [cpu.cfs_period_us]=100000 [cpu.cfs_quota_us]="${CPU_QUOTA_US:--1}")
    declare -A CONF=([memory.limit_in_bytes]="${MEMORY_MB}M"
        [memory.memsw.limit_in_bytes]="$(( MEMORY_MB + SWAP_MB ))M" [cpu.shares]=$CPU_SHARES
        [cpu.cfs_period_us]="${CPU_QUOTA_US:+100000}" [cpu.cfs_quota_us]="${CPU_QUOTA_US:-}")
fi
KEYS=("$MEM_KEY")
[ "$SWAP" = 0 ] || KEYS+=("$SWAP_KEY")
KEYS+=("${CPU_KEYS[@]}")

config_value() {
    # The value of `$PREFIX.$1 = ...` in the container's config ('-' when it has none).
    local LINE VALUE=-
    while IFS= read -r LINE; do
        [[ "$LINE" != "$PREFIX.$1 = "* ]] || VALUE="${LINE#* = }"
    done < "$DIR/config"
    echo "$VALUE"
}

report() {
    # $1 BEFORE or AFTER: each key's live value (running) or the config's (stopped).
    local OUT="$1" KEY VALUE
    for KEY in "${KEYS[@]}"; do
        if [ "$RUNNING" = 1 ]; then VALUE=$(cg "$KEY"); else VALUE=$(config_value "$KEY"); fi
        OUT+=" $KEY=${VALUE// /_}"
    done
    echo "$OUT"
}

report BEFORE
if [ "$RUNNING" = 1 ]; then
    USED=$(cg "$USAGE_KEY")
    if [ "$MEMORY" -lt "$USED" ]; then
        echo "REFUSED $VM uses $(( USED / 1048576 )) MiB of memory now, more than the" \
            "$MEMORY_MB MiB asked: free memory in the VM first" >&2
        exit 3
    fi
    # cgroup v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every write:
    # growing raises memsw first, shrinking lowers the memory limit first.
    ORDER=("$MEM_KEY")
    if [ "$SWAP" = 1 ]; then
        if [ "$MEMORY" -gt "$(cg "$MEM_KEY")" ]; then ORDER=("$SWAP_KEY" "$MEM_KEY")
        else ORDER+=("$SWAP_KEY"); fi
    fi
    for KEY in "${ORDER[@]}" "${CPU_KEYS[@]}"; do
        cg "$KEY" "${LIVE[$KEY]}"
    done
fi

# The config file: the lines of these keys replaced (a key with an empty value, the quota
# cleared, has no line, as vm-deploy.sh writes it), moved into place whole.
{
    while IFS= read -r LINE; do
        for KEY in "${!CONF[@]}"; do
            [[ "$LINE" != "$PREFIX.$KEY = "* ]] || continue 2
        done
        printf '%s\n' "$LINE"
    done < "$DIR/config"
    for KEY in "${KEYS[@]}"; do
        [ -z "${CONF[$KEY]}" ] || echo "$PREFIX.$KEY = ${CONF[$KEY]}"
    done
} > "$DIR/config.new"
mv "$DIR/config.new" "$DIR/config"
report AFTER
echo "DONE resize $VM"
