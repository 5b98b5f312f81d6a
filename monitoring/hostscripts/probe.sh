#!/bin/bash
# Monitoring probe: everything one cycle needs from a host, read in one command (read-only).
# BOOT <boot id>                                       (a new one each time the host boots)
# HOST <cpu total ticks> <cpu idle ticks> <load1> <mem total KiB> <mem available KiB>
#      <disk total KiB> <disk used KiB>                  (disk: the base directory's filesystem)
# CT <name> <RUNNING|STOPPED|...> <cpu ns> <memory bytes> <rx bytes> <tx bytes> <disk used KiB>
#      (rx/tx as the container sees them: the host side of its veth pairs counts the reverse;
#      disk: what its disk holds while mounted (vms/hostscripts/rootfs.sh), '-' otherwise)
# DONE
set -uo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
export LC_ALL=C

read -r boot_id < /proc/sys/kernel/random/boot_id
echo "BOOT $boot_id"
read -r _ user nice system idle iowait irq softirq steal _ < /proc/stat
total=$(( user + nice + system + idle + iowait + irq + softirq + steal ))
read -r load1 _ < /proc/loadavg
mem_total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
mem_avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
mkdir -p "$BASE"
read -r disk_total disk_used < <(df -Pk "$BASE" | awk 'NR == 2 {print $2, $3}')
echo "HOST $total $(( idle + iowait )) $load1 $mem_total $mem_avail $disk_total $disk_used"

# Per-interface byte counters of this host's network namespace, once for all containers.
declare -A RX TX
while read -r name rx _ _ _ _ _ _ _ tx _; do
    RX[${name%:}]=$rx
    TX[${name%:}]=$tx
done < <(tail -n +3 /proc/net/dev | tr -s ' ' | sed 's/^ //; s/: */: /')

for config in "$LXCPATH"/*/config; do
    [ -f "$config" ] || continue
    dir=${config%/config}
    vm=${dir##*/}
    state=$(lxc-info -P "$LXCPATH" -n "$vm" -s -H 2>/dev/null || echo GONE)
    cpu=0 mem=0 rx=0 tx=0
    if [ "$state" = RUNNING ]; then
        cpu=$(lxc-cgroup -P "$LXCPATH" -n "$vm" cpuacct.usage 2>/dev/null ||
              lxc-cgroup -P "$LXCPATH" -n "$vm" cpu.stat 2>/dev/null | awk '/^usage_usec/ {print $2 * 1000}')
        mem=$(lxc-cgroup -P "$LXCPATH" -n "$vm" memory.usage_in_bytes 2>/dev/null ||
              lxc-cgroup -P "$LXCPATH" -n "$vm" memory.current 2>/dev/null)
        for nic in "${!RX[@]}"; do
            # The host ends of a container's veth pairs: v<vm> (eth0), v<vm>n<N> (the others).
            if [ "$nic" = "v$vm" ] || [[ "$nic" == "v${vm}n"* ]]; then
                rx=$(( rx + ${TX[$nic]} ))
                tx=$(( tx + ${RX[$nic]} ))
            fi
        done
    fi
    disk=-
    if [ -f "$dir/disk.img" ]; then
        mounted="$dir/disk"
        [ -f "$dir/rootfs.lower" ] || mounted="$dir/rootfs"
        if mountpoint -q "$mounted"; then
            disk=$(df -Pk "$mounted" | awk 'NR == 2 {print $3}')
        fi
    fi
    echo "CT $vm $state ${cpu:-0} ${mem:-0} $rx $tx ${disk:--}"
done
echo DONE
