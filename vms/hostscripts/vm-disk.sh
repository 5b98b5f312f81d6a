#!/bin/bash
# Grow one container's disk (rootfs.sh) to SIZE_MB, online when it is mounted: the sparse file
# is extended, the loop device told its new size and ext4 grown in place (resize2fs grows a
# mounted ext4; shrinking is refused here as in the portal). VM=one-<id>, SIZE_MB.
# Prints `DISK <old MB> -> <new MB>` and the size the filesystem now reports.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
DIR="$LXCPATH/$VM"
# @include rootfs.sh
[[ "$SIZE_MB" =~ ^[0-9]+$ ]] || { echo "ERROR SIZE_MB must be a number" >&2; exit 2; }
# The deploy's lock: no deploy, restore or snapshot of this container runs meanwhile.
exec 9>"$LXCPATH/.$VM.lock"
flock 9
if [ ! -f "$DIR/disk.img" ]; then
    echo "ERROR $VM has no disk of its own (deployed before VMs had one): nothing to grow" >&2
    exit 3
fi
OLD=$(( $(stat -c %s "$DIR/disk.img") / 1048576 ))
if [ "$SIZE_MB" -lt "$OLD" ]; then
    echo "ERROR $VM's disk is $OLD MB: shrinking to $SIZE_MB MB is refused" >&2
    exit 4
fi
MOUNTED=$(one_disk_dir "$DIR")
truncate -s "${SIZE_MB}M" "$DIR/disk.img"
if mountpoint -q "$MOUNTED"; then
    LOOP=$(findmnt -n -o SOURCE --target "$MOUNTED")
    losetup -c "$LOOP"
    # Online growth is the kernel's (it needs CAP_SYS_RESOURCE, which a droplet's root has).
    if ! OUT=$(resize2fs "$LOOP" 2>&1); then
        # Where the filesystem kept its size, so does the file: the VM sees nothing changed.
        FS_BYTES=$(dumpe2fs -h "$LOOP" 2>/dev/null \
            | awk -F: '/^Block count/ {n = $2} /^Block size/ {s = $2} END {print n * s}')
        if [ "${FS_BYTES:-0}" -gt 0 ] && [ "$FS_BYTES" -le $(( OLD * 1048576 )) ]; then
            truncate -s "${OLD}M" "$DIR/disk.img"
            losetup -c "$LOOP"
        fi
        WHY=$(grep -m 1 '^resize2fs:' <<<"$OUT" || tail -n 1 <<<"$OUT")
        echo "ERROR the disk was not grown: $WHY" >&2
        exit 5
    fi
    echo "DISK $OLD -> $SIZE_MB MB (online)"
    df -Pk "$MOUNTED" | awk 'NR == 2 {print "DF", $2}'
else
    if ! OUT=$( { e2fsck -fp "$DIR/disk.img" && resize2fs "$DIR/disk.img"; } 2>&1 ); then
        truncate -s "${OLD}M" "$DIR/disk.img"
        WHY=$(grep -m 1 -E '^(resize2fs|e2fsck):' <<<"$OUT" || tail -n 1 <<<"$OUT")
        echo "ERROR the disk was not grown: $WHY" >&2
        exit 5
    fi
    echo "DISK $OLD -> $SIZE_MB MB (offline: the disk was not mounted)"
fi
