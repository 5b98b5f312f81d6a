#!/bin/bash
# Snapshots of one container's disk (rootfs.sh), kept beside it in $DIR/snapshots/<id>.img:
# ACTION=create|revert|delete, VM=one-<id>, SNAP=<snapshot id>; revert: START=1 starts the
# container after. Idempotent: a snapshot already there is not taken again, a revert or delete
# done again does the same.
#
# create: crash-consistent (one_disk_copy_frozen, rootfs.sh).
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
ONE_FROZEN_DIR="$DIR" ONE_FROZEN_VM="$VM"
one_thaw  # what a run cut short left frozen

case "$ACTION" in
    create)
        mkdir -p "$SNAPS"
        if [ ! -f "$SNAPS/$SNAP.img" ]; then
            one_disk_copy_frozen "$DIR" "$SNAPS/$SNAP.img"
        else
            echo "SNAPSHOT $SNAP was taken already"
        fi
        echo "SIZE $(du -B1 "$SNAPS/$SNAP.img" | cut -f1)" ;;
    revert)
        if [ ! -f "$SNAPS/$SNAP.img" ]; then
            echo "ERROR snapshot $SNAP of $VM is not on this host" >&2
            exit 4
        fi
        cp --sparse=always "$SNAPS/$SNAP.img" "$DIR/disk.img.revert"
        one_disk_replace "$DIR" "$DIR/disk.img.revert" "${START:-0}"
        echo "REVERTED $VM to snapshot $SNAP" ;;
    delete)
        rm -f "$SNAPS/$SNAP.img" "$SNAPS/$SNAP.img.tmp"
        echo "DELETED snapshot $SNAP" ;;
    *)
        echo "ERROR unknown action $ACTION" >&2; exit 2 ;;
esac
