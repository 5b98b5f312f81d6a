#!/bin/bash
# Snapshots of one container's disk (rootfs.sh), kept beside it in $DIR/snapshots/<id>.img:
# ACTION=create|revert|delete, VM=one-<id>, SNAP=<snapshot id>; revert: START=1 starts the
# container after. Idempotent: a snapshot already there is not taken again, a revert or delete
# done again does the same.
#
# create: crash-consistent. A running container is frozen (its cgroup's freezer: no process
# runs) and its disk's filesystem frozen (fsfreeze: everything written so far is on the disk,
# nothing more is written), the disk file copied (sparse: only what is written), then both
# thawed; `FROZEN <ms>` says for how long. A thaw also runs when the script is cut short
# (its SSH session lost), and every run thaws first what a lost run left frozen.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
DIR="$LXCPATH/$VM"
SNAPS="$DIR/snapshots"
# @include isolation.sh
# @include rootfs.sh
[[ "$SNAP" =~ ^[0-9]+$ ]] || { echo "ERROR SNAP must be a number" >&2; exit 2; }
exec 9>"$LXCPATH/.$VM.lock"
flock 9
if [ ! -f "$DIR/disk.img" ]; then
    echo "ERROR $VM has no disk of its own (deployed before VMs had one): no snapshots" >&2
    exit 3
fi
MOUNTED=$(one_disk_dir "$DIR")

state() { lxc-info -P "$LXCPATH" -n "$VM" -s -H 2>/dev/null || echo STOPPED; }
thaw() {
    if mountpoint -q "$MOUNTED"; then fsfreeze -u "$MOUNTED" 2>/dev/null || true; fi
    if [ "$(state)" = FROZEN ]; then lxc-unfreeze -P "$LXCPATH" -n "$VM" || true; fi
}
now_ms() { date +%s%3N; }
thaw  # what a run cut short left frozen

case "$ACTION" in
    create)
        mkdir -p "$SNAPS"
        if [ ! -f "$SNAPS/$SNAP.img" ]; then
            rm -f "$SNAPS/$SNAP.img.tmp"
            trap thaw EXIT HUP INT TERM
            STARTED=$(now_ms)
            [ "$(state)" != RUNNING ] || lxc-freeze -P "$LXCPATH" -n "$VM"
            if mountpoint -q "$MOUNTED"; then fsfreeze -f "$MOUNTED"; fi
            cp --sparse=always "$DIR/disk.img" "$SNAPS/$SNAP.img.tmp"
            thaw
            trap - EXIT HUP INT TERM
            echo "FROZEN $(( $(now_ms) - STARTED ))"
            sync -f "$SNAPS/$SNAP.img.tmp"
            mv "$SNAPS/$SNAP.img.tmp" "$SNAPS/$SNAP.img"
        else
            echo "SNAPSHOT $SNAP was taken already"
        fi
        echo "SIZE $(du -B1 "$SNAPS/$SNAP.img" | cut -f1)" ;;
    revert)
        if [ ! -f "$SNAPS/$SNAP.img" ]; then
            echo "ERROR snapshot $SNAP of $VM is not on this host" >&2
            exit 4
        fi
        if [ "$(state)" != STOPPED ]; then
            lxc-stop -P "$LXCPATH" -n "$VM" -t 20 || lxc-stop -P "$LXCPATH" -n "$VM" -k
        fi
        one_rootfs_unmount "$DIR"
        cp --sparse=always "$SNAPS/$SNAP.img" "$DIR/disk.img.revert"
        mv -f "$DIR/disk.img.revert" "$DIR/disk.img"
        one_disk_mount "$DIR"
        echo "REVERTED $VM to snapshot $SNAP"
        if [ "${START:-0}" = 1 ]; then
            one_before_start "$DIR"
            lxc-start -P "$LXCPATH" -n "$VM"
            lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30
            echo "STARTED $VM"
        fi ;;
    delete)
        rm -f "$SNAPS/$SNAP.img" "$SNAPS/$SNAP.img.tmp"
        echo "DELETED snapshot $SNAP" ;;
    *)
        echo "ERROR unknown action $ACTION" >&2; exit 2 ;;
esac
