#!/bin/bash
# Backups of one container's disk with restic, to S3-compatible object storage (DigitalOcean
# Spaces): VM=one-<id>, ACTION=backup|restore|forget|list.
#
# The repository and its secrets (RESTIC_REPOSITORY, RESTIC_PASSWORD, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY) are exported at the top of the script's text by the portal
# (backups/hostside.py): they travel over the SSH session's stdin, never on a command line.
#
# backup (TAG=job-<n>, MANIFEST the VM's description as JSON): crash-consistent, the VM frozen
#   only for the copy of its disk (one_disk_copy_frozen, rootfs.sh), not for the upload. The
#   copy and vm.json go up as one restic snapshot tagged TAG; a run taken over by another
#   worker finds the snapshot its lost run made (or is still making: the lock below waits for
#   it) instead of making a second. Prints FROZEN, SUMMARY (restic's JSON) and SNAPSHOT.
# restore (SNAPSHOT, MODE=in-place|stage, START=0|1): the disk fetched and checked against the
#   repository's own checksums (`restic restore --verify`), its zero blocks made holes again.
#   in-place: the container stopped, its disk replaced, started again with START=1.
#   stage: left at $LXCPATH/.restored-$VM.img, the disk of the VM's next deploy (RESTORED).
# forget (KEEP="--keep-daily 7 ..." or SNAPSHOTS="id ..."): restic's forget and prune.
# list: the repository's snapshots (SNAPSHOT <id> <time> per line).
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
DIR="$LXCPATH/$VM"
WORK="$LXCPATH/.backup-$VM"
STAGED="$LXCPATH/.restored-$VM.img"
# Each host keeps its own index cache: an incremental backup then reads little from the store.
export RESTIC_CACHE_DIR="$BASE/restic-cache"
# @include isolation.sh
# @include rootfs.sh
[[ "$VM" =~ ^one-[0-9]+$ ]] || { echo "ERROR VM must be one-<id>" >&2; exit 2; }
command -v restic >/dev/null 2>&1 || {
    echo "ERROR restic is not installed on this host: configure the host again (Repair)" >&2
    exit 8
}
mkdir -p "$LXCPATH" "$WORK"
# One backup or restore of a VM at a time: a run taken over waits here for its lost run,
# should that one still be uploading, then finds its snapshot.
exec 8>"$LXCPATH/.$VM.backup.lock"
flock -w 3600 8

restic_failed() {
    # $1 what failed, $2 restic's error output: its last lines, and exit 9.
    echo "ERROR $1: $(tail -n 3 "$2" | tr '\n' ' ')" >&2
    exit 9
}

repository_ready() {
    # The VM's repository, made on its first backup.
    if ! restic cat config >/dev/null 2>"$WORK.err"; then
        if grep -q "unable to open config file\|Is there a repository at the following location" "$WORK.err"; then
            restic init >/dev/null 2>"$WORK.err" || restic_failed "restic init" "$WORK.err"
            echo "REPOSITORY created"
        else
            restic_failed "the backup store cannot be read" "$WORK.err"
        fi
    fi
}

snapshot_tagged() {
    # $1 tag: the ID of the snapshot that has it, or nothing.
    local FOUND
    FOUND=$(restic snapshots --json --tag "$1" 2>"$WORK.err") \
        || restic_failed "the store's snapshots cannot be listed" "$WORK.err"
    grep -o '"id":"[0-9a-f]\{64\}"' <<<"$FOUND" | head -n 1 | cut -d'"' -f4 || true
}

case "$ACTION" in
    backup)
        [[ "$TAG" =~ ^job-[0-9]+$ ]] || { echo "ERROR TAG must be job-<n>" >&2; exit 2; }
        [ -f "$DIR/disk.img" ] || {
            echo "ERROR $VM has no disk of its own on this host: nothing to back up" >&2
            exit 3
        }
        repository_ready
        DONE=$(snapshot_tagged "$TAG")
        if [ -n "$DONE" ]; then
            echo "SNAPSHOT $DONE (made by an earlier run of this job)"
            [ ! -f "$WORK/$TAG.summary" ] || echo "SUMMARY $(cat "$WORK/$TAG.summary")"
            rm -rf "$WORK/data"
            exit 0
        fi
        rm -rf "$WORK/data"
        mkdir -p "$WORK/data"
        one_disk_copy_frozen "$DIR" "$WORK/data/disk.img"
        printf '%s\n' "$MANIFEST" > "$WORK/data/vm.json"
        STARTED=$(date +%s%3N)
        # From inside the directory: the snapshot holds disk.img and vm.json at its root.
        (cd "$WORK/data" && restic backup --json --tag "$TAG" --host "$VM" .) \
            > "$WORK/out.json" 2>"$WORK.err" || restic_failed "restic backup" "$WORK.err"
        grep '"message_type":"summary"' "$WORK/out.json" > "$WORK/$TAG.summary"
        echo "UPLOADED $(( $(date +%s%3N) - STARTED ))"
        echo "SUMMARY $(cat "$WORK/$TAG.summary")"
        echo "SNAPSHOT $(snapshot_tagged "$TAG")"
        rm -rf "$WORK/data" "$WORK/out.json" ;;
    restore)
        [[ "$SNAPSHOT" =~ ^[0-9a-f]{8,64}$ ]] || { echo "ERROR SNAPSHOT must be hex" >&2; exit 2; }
        if [ "$MODE" = stage ] && [ -f "$DIR/config" ]; then
            echo "PRESENT $VM is on this host already (an earlier run of this deploy made it)"
            exit 0
        fi
        if [ "$MODE" = stage ] && [ -f "$STAGED" ]; then
            echo "STAGED $STAGED (fetched and verified by an earlier run)"
            exit 0
        fi
        rm -rf "$WORK/restore"
        mkdir -p "$WORK/restore"
        restic restore "$SNAPSHOT" --target "$WORK/restore" --verify \
            > "$WORK/restore.out" 2>"$WORK.err" || restic_failed "restic restore" "$WORK.err"
        grep -q "finished verifying" "$WORK/restore.out" \
            || restic_failed "restic restore did not verify the disk" "$WORK/restore.out"
        echo "VERIFIED $(grep "finished verifying" "$WORK/restore.out")"
        [ -f "$WORK/restore/disk.img" ] || { echo "ERROR the backup holds no disk" >&2; exit 4; }
        # restic writes zeros as data: a disk mostly empty takes its whole size until its
        # zeros are holes again.
        fallocate --dig-holes "$WORK/restore/disk.img" 2>/dev/null || true
        echo "DISK $(( $(stat -c %s "$WORK/restore/disk.img") / 1048576 )) MB," \
            "$(( $(du -B1 "$WORK/restore/disk.img" | cut -f1) / 1048576 )) MB written"
        if [ "$MODE" = stage ]; then
            mv -f "$WORK/restore/disk.img" "$STAGED"
            echo "STAGED $STAGED"
        else
            [ -f "$DIR/config" ] || { echo "ERROR $VM is not on this host" >&2; exit 3; }
            exec 9>"$LXCPATH/.$VM.lock"  # the deploy, action and snapshot scripts' lock
            flock 9
            one_disk_replace "$DIR" "$WORK/restore/disk.img" "${START:-0}"
            echo "RESTORED $VM from snapshot ${SNAPSHOT:0:8}"
        fi
        rm -rf "$WORK/restore" ;;
    forget)
        # Locks left by runs killed half-way (restic's own judgement: their process is gone).
        restic unlock 2>/dev/null || true
        if [ -n "${SNAPSHOTS:-}" ]; then
            for ID in $SNAPSHOTS; do
                [[ "$ID" =~ ^[0-9a-f]{8,64}$ ]] || { echo "ERROR bad snapshot $ID" >&2; exit 2; }
            done
            # shellcheck disable=SC2086 # one argument per ID
            restic forget --prune $SNAPSHOTS >/dev/null 2>"$WORK.err" \
                || restic_failed "restic forget" "$WORK.err"
        else
            [[ "$KEEP" =~ ^(--keep-(daily|weekly|monthly)\ [0-9]+\ ?)+$ ]] \
                || { echo "ERROR KEEP must be --keep-daily N ..." >&2; exit 2; }
            # shellcheck disable=SC2086 # the options, checked above
            restic forget --prune --group-by host $KEEP >/dev/null 2>"$WORK.err" \
                || restic_failed "restic forget" "$WORK.err"
        fi
        echo "FORGOTTEN" ;&
    list)
        restic snapshots --json 2>"$WORK.err" > "$WORK/list.json" \
            || restic_failed "restic snapshots" "$WORK.err"
        grep -o '"id":"[0-9a-f]\{64\}"' "$WORK/list.json" | cut -d'"' -f4 \
            | sed 's/^/SNAPSHOT /' ;;
    *)
        echo "ERROR unknown action $ACTION" >&2; exit 2 ;;
esac
