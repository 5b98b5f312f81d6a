# Images and container root filesystems, included (by the portal) into vm-deploy.sh,
# vm-action.sh and image-prepare.sh. Needs BASE set (and IMAGES, for one_image_fetch) and
# isolation.sh included.
#
# An image is unpacked once per host and id map ("prepared", under $BASE/images/rootfs/) and
# every container of it gets an overlayfs on top: its own writable layer ($DIR/delta), the
# prepared tree read-only below. A deploy then costs a mount instead of unpacking the whole
# image (tens of MB, most of a deploy's time), containers of one image share their page cache,
# and a container's disk use is only what it changed. The mount is made by the host's root
# (in LXC's pre-start hook), not by LXC inside the container's user namespace, so it needs
# nothing of the kernel beyond overlayfs itself. Where overlayfs is missing, each container
# gets its own unpacked copy; a container whose directory is such a plain copy (no delta) is
# started as it is.
#
# A VM's disk bounds what it can write: its writable layer (the overlay's upper and work
# directories, or the whole unpacked tree without overlayfs) lives in an ext4 filesystem of
# the VM's size, a sparse file $DIR/disk.img loop-mounted at $DIR/disk (at $DIR/rootfs without
# overlayfs), as OpenNebula's LXC driver mounts its disk images. A VM that fills it gets
# ENOSPC inside; the host's filesystem, and every other VM, keep their room. A sparse file
# takes on the host only what the VM wrote. A container deployed without a size (DISK_MB
# empty) keeps an unbounded layer in $DIR/delta.

ONE_PREPARED="$BASE/images/rootfs"

one_overlay_available() {
    grep -qw overlay /proc/filesystems && return 0
    modprobe -q overlay 2>/dev/null && grep -qw overlay /proc/filesystems
}

one_untar_mapped() {
    # $1 target directory, $2 root id, $3 id count, then tar's input (`-f FILE`, or a
    # decompression option and `-f -` for stdin): unpacked inside a user namespace with the
    # host's map, so every file's owner is shifted by the range's start (root -> START, uid
    # 1000 -> START+1000) and reads as its own owner inside the container. Device nodes
    # cannot be made there and are not needed: LXC populates the container's /dev.
    local TARGET="$1" ROOT_ID="$2" COUNT="$3"
    shift 3
    lxc-usernsexec -m "b:0:$ROOT_ID:$COUNT" -- \
        tar --numeric-owner -xp "$@" -C "$TARGET" --anchored --exclude='./dev/*' --exclude='dev/*'
}

one_unpack() {
    # $1 image tar, $2 target directory (exists), $3 owner of root (0: privileged), $4 id count.
    local IMAGE="$1" TARGET="$2" ROOT_ID="$3" COUNT="$4"
    if [ "$ROOT_ID" = 0 ]; then
        tar --numeric-owner -xf "$IMAGE" -C "$TARGET"
        return
    fi
    # tar opens the image itself (so it recognises any compression): readable to the mapped
    # root.
    chown "$ROOT_ID:$ROOT_ID" "$TARGET"
    one_traversable "$TARGET" "$ROOT_ID"
    one_traversable "$IMAGE" "$ROOT_ID"
    chmod a+r "$IMAGE"
    one_untar_mapped "$TARGET" "$ROOT_ID" "$COUNT" -f "$IMAGE"
}

one_prepare_image() {
    # $1 image tar, $2 its sha256, $3 root id, $4 id count: the image unpacked once for this id
    # map at $ONE_PREPARED/$2-$3. Made under a lock (deploys of one image run at once) in a
    # temporary directory renamed into place, so a prepared tree is always complete.
    local IMAGE="$1" PREPARED="$ONE_PREPARED/$2-$3" TMP
    [ -d "$PREPARED" ] && return 0
    mkdir -p "$ONE_PREPARED"
    (
        flock 8
        [ -d "$PREPARED" ] && exit 0
        # Whatever is there was left by a script killed half-way (this lock was its own).
        rm -rf "$ONE_PREPARED/.unpack-$2-$3-"*
        TMP="$ONE_PREPARED/.unpack-$2-$3-$$"
        mkdir "$TMP"
        one_unpack "$IMAGE" "$TMP" "$3" "$4"
        mv -T "$TMP" "$PREPARED"
        echo "ROOTFS prepared image ${2:0:12} for root id $3 (once per host)"
    ) 8>"$ONE_PREPARED/.$2-$3.lock"
}

one_tar_option() {
    # $1 image URL: tar's decompression option for its name (what unpacking from a pipe needs:
    # tar recognises compression only in a file), or nothing where the name does not say.
    # gzip by pigz where the host has it (cloud-init installs it): it inflates in one thread
    # too, but reads, writes and checks in others, close to twice gzip's speed, and a first
    # deploy waits for it.
    case "${1%%[?#]*}" in
        *.tar.gz | *.tgz)
            if command -v pigz >/dev/null 2>&1; then
                echo --use-compress-program=pigz
            else
                echo -z
            fi ;;
        *.tar.xz | *.txz) echo -J ;;
        *.tar.zst | *.tzst) echo --zstd ;;
    esac
}

one_sha256() {
    # $1 a file: its sha256, in hex. OpenSSL's where the host has it (Debian and Ubuntu do): it
    # uses the CPU's SHA instructions, about 5 times sha256sum's speed on a 60 MB image, and a
    # first deploy waits for the checksum.
    local OUT=""
    if command -v openssl >/dev/null 2>&1; then
        OUT=$(openssl dgst -sha256 -r "$1" 2>/dev/null) || OUT=""
    fi
    [ -n "$OUT" ] || OUT=$(sha256sum "$1") || return 1
    echo "${OUT%% *}"
}

one_prepare_streamed() {
    # stdin: an image as it downloads; $1 the file to keep it in, $2 its sha256, $3 root id
    # (not 0), $4 id count, $5 tar's decompression option. The download is written to $1 and
    # unpacked at once, so the two overlap (a first deploy's longest steps) instead of one
    # after the other. The tree is unpacked as the mapped root (nobody on the host) into a
    # temporary directory and renamed into place only once the whole file's sha256 matches;
    # otherwise it is removed and nothing of it is used. Returns 4 on a checksum mismatch,
    # another non-zero status when the caller should download and unpack the usual way.
    # Runs where `set -e` may not hold (the caller tests it), so every step is checked.
    local KEEP="$1" SHA="$2" ROOT_ID="$3" COUNT="$4" OPTION="$5"
    local PREPARED="$ONE_PREPARED/$2-$3"
    mkdir -p "$ONE_PREPARED" || return 5
    (
        flock 8 || exit 5
        if [ -d "$PREPARED" ]; then  # another deploy prepared it meanwhile: only keep the file
            cat > "$KEEP" || exit 5
        else
            UNPACK="$ONE_PREPARED/.unpack-$SHA-$ROOT_ID-$$"
            trap 'rm -rf "$UNPACK"' EXIT
            # Trees of a script killed half-way (its SSH session lost) go first: the lock
            # held here was theirs.
            rm -rf "$ONE_PREPARED/.unpack-$SHA-$ROOT_ID-"* || exit 5
            mkdir "$UNPACK" && chown "$ROOT_ID:$ROOT_ID" "$UNPACK" || exit 5
            one_traversable "$UNPACK" "$ROOT_ID" || exit 5
            tee "$KEEP" | one_untar_mapped "$UNPACK" "$ROOT_ID" "$COUNT" "$OPTION" -f -
            [ "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00 ] || exit 5
        fi
        GOT=$(one_sha256 "$KEEP") || exit 5
        [ "$GOT" = "$SHA" ] || exit 4
        if [ ! -d "$PREPARED" ]; then
            mv -T "$UNPACK" "$PREPARED" || exit 5
            trap - EXIT
            echo "ROOTFS prepared image ${SHA:0:12} for root id $ROOT_ID while downloading"
        fi
    ) 8>"$ONE_PREPARED/.$2-$3.lock"
}

one_image_fetch() {
    # The image of IMAGE_URL (IMAGE_RESOLVE, IMAGE_SHA256, PRIVILEGED as for vm-deploy.sh) kept
    # at $IMAGES/<sha256>.tar, verified; sets CACHED to that path. The first fetch of an image
    # on a host also prepares its tree (unpacked while it downloads, where it can be). Fetches
    # of one image take turns (a lock per image): a deploy that starts while another deploy or
    # the portal's staging (image-prepare.sh) fetches the image waits for that transfer instead
    # of making its own.
    [[ "$IMAGE_SHA256" =~ ^[0-9a-f]{64}$ ]] || {
        echo "ERROR IMAGE_SHA256 must be 64 hex digits" >&2
        return 2
    }
    CACHED="$IMAGES/$IMAGE_SHA256.tar"
    if [ -f "$CACHED" ]; then
        echo "IMAGE cached"
        return 0
    fi
    (
        flock 7
        if [ -f "$CACHED" ]; then
            echo "IMAGE cached (fetched meanwhile by another deploy or the portal's staging)"
            exit 0
        fi
        # Downloads of a script killed half-way: only a holder of this lock writes them.
        rm -f "$IMAGES/.download-$IMAGE_SHA256-"*
        TMP="$IMAGES/.download-$IMAGE_SHA256-$$"
        # http(s) only, no redirect (its target was never checked), no proxy (it would resolve
        # the name itself), and the host name pinned to the checked addresses.
        CURL=(curl -fsS --proto =http,https -L --max-redirs 0 --noproxy '*')
        [ -z "${IMAGE_RESOLVE:-}" ] || CURL+=(--resolve "$IMAGE_RESOLVE")
        VERIFIED=no
        OPTION=$(one_tar_option "$IMAGE_URL")
        read -r ID_START ID_COUNT < <(one_idmap)
        if [ -n "$OPTION" ] && [ "${PRIVILEGED:-0}" != 1 ] \
            && [ ! -d "$ONE_PREPARED/$IMAGE_SHA256-$ID_START" ] && one_overlay_available; then
            # Unpacked while it downloads; with no retry: a retried transfer would append to
            # the stream. Anything but a checksum mismatch falls back to the usual way.
            set +e
            "${CURL[@]}" "$IMAGE_URL" \
                | one_prepare_streamed "$TMP" "$IMAGE_SHA256" "$ID_START" "$ID_COUNT" "$OPTION"
            STATUS=("${PIPESTATUS[@]}")
            set -e
            if [ "${STATUS[0]}" = 0 ] && [ "${STATUS[1]}" = 4 ]; then
                rm -f "$TMP"
                echo "ERROR image checksum mismatch: expected $IMAGE_SHA256" >&2
                exit 4
            fi
            if [ "${STATUS[0]}${STATUS[1]}" = 00 ]; then
                VERIFIED=yes
            else
                rm -f "$TMP"
                echo "IMAGE unpacking while downloading failed (curl ${STATUS[0]}, unpack" \
                    "${STATUS[1]}): downloading it again"
            fi
        fi
        if [ "$VERIFIED" = no ]; then
            "${CURL[@]}" --retry 3 -o "$TMP" "$IMAGE_URL"
            GOT=$(one_sha256 "$TMP")
            if [ "$GOT" != "$IMAGE_SHA256" ]; then
                rm -f "$TMP"
                echo "ERROR image checksum mismatch: expected $IMAGE_SHA256, got $GOT" >&2
                exit 4
            fi
        fi
        mv "$TMP" "$CACHED"
        echo "IMAGE downloaded and verified"
    ) 7>"$IMAGES/.$IMAGE_SHA256.lock"
}

ONE_ROOTFS_HOOK="$BASE/bin/one-rootfs-hook"

one_rootfs_hook_install() {
    # The overlay's mount follows the container's life through LXC's own hooks: mounted
    # before it starts (pre-start, also after a reboot or by an operator's lxc-start) and
    # unmounted once it has stopped (post-stop), so a stopped container's directory holds no
    # merged tree (an operator who destroys one by hand unmounts its disk first). Hooks run as
    # the host's root in the host's namespaces; LXC gives them LXC_CONFIG_FILE. Rewritten by
    # every deploy, so it is always this portal version's; each deploy writes its own temporary
    # file (deploys run side by side on a host) and renames it into place, so no start ever
    # sees half a hook.
    #
    # The disk is not the hooks' to mount: where the host has AppArmor, lxc-start and its
    # hooks run under lxc-start's profile, which allows overlay mounts but not a loop mount of
    # ext4. The portal's scripts mount it (one_disk_mount) before they start a container, and
    # it stays mounted while the container is stopped (LXC runs the stop and start hooks again
    # for an in-place reboot); a start that finds it unmounted is refused, since the overlay
    # would otherwise write to the host's own filesystem, unbounded.
    local NEW
    mkdir -p "$BASE/bin"
    NEW=$(mktemp "$ONE_ROOTFS_HOOK.XXXXXX")
    cat > "$NEW" <<'HOOK'
#!/bin/sh
# Edge Portal: a container's overlay rootfs on its disk (written by vm-deploy.sh).
# $1: mount | unmount (the overlay: LXC's pre-start and post-stop) | unmount-all (the overlay
# and the disk: the portal's scripts, before the directory is removed or the disk replaced).
set -eu
D=$(dirname "$LXC_CONFIG_FILE")
UPPER="$D"
if [ -f "$D/disk.img" ]; then
    UPPER="$D/disk"
    [ -f "$D/rootfs.lower" ] || UPPER="$D/rootfs"
fi
case "$1" in
    mount)
        if [ "$UPPER" != "$D" ] && ! mountpoint -q "$UPPER"; then
            echo "ERROR the VM's disk $D/disk.img is not mounted: start the VM from the portal" >&2
            exit 9
        fi
        [ -f "$D/rootfs.lower" ] || exit 0
        mountpoint -q "$D/rootfs" && exit 0
        LOWER=$(cat "$D/rootfs.lower")
        if [ ! -d "$LOWER" ]; then
            echo "ERROR the prepared image under $D ($LOWER) is gone: redeploy the VM" >&2
            exit 8
        fi
        mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER/delta,workdir=$UPPER/work" \
            "$D/rootfs" ;;
    unmount | unmount-all)
        MOUNTS="$D/rootfs"
        [ "$1" = unmount ] || MOUNTS="$D/rootfs $D/disk"
        [ -f "$D/rootfs.lower" ] || [ "$1" = unmount-all ] || MOUNTS=""
        for M in $MOUNTS; do
            mountpoint -q "$M" || continue
            umount "$M" 2>/dev/null || umount -l "$M"
        done ;;
esac
HOOK
    chmod 755 "$NEW"
    mv -f "$NEW" "$ONE_ROOTFS_HOOK"
}

one_rootfs_unmount() {
    # $1 container directory: its overlay and disk unmounted, before the directory is removed
    # or the disk replaced (a removal would walk the merged tree and leave the disk mounted).
    # Nothing for a plain rootfs directory.
    if { [ -f "$1/rootfs.lower" ] || [ -f "$1/disk.img" ]; } && [ -x "$ONE_ROOTFS_HOOK" ]; then
        LXC_CONFIG_FILE="$1/config" "$ONE_ROOTFS_HOOK" unmount-all
    fi
}

one_disk_dir() {
    # $1 container directory: where its disk is mounted ($1/disk under an overlay, $1/rootfs
    # without one).
    if [ -f "$1/rootfs.lower" ]; then echo "$1/disk"; else echo "$1/rootfs"; fi
}

one_disk_mount() {
    # $1 container directory: its disk mounted where the container's layer lives, before the
    # container starts (its pre-start hook refuses to start it otherwise). Nothing for a
    # container without a disk of its own or one whose disk is mounted.
    local DIR="$1" UPPER
    [ -f "$DIR/disk.img" ] || return 0
    UPPER=$(one_disk_dir "$DIR")
    mountpoint -q "$UPPER" && return 0
    mkdir -p "$UPPER"
    if ! mount -o loop,noatime "$DIR/disk.img" "$UPPER"; then
        echo "ERROR the VM's disk could not be mounted (a loop device is needed)" >&2
        exit 7
    fi
}

one_disk_copy_frozen() {
    # $1 container directory, $2 the copy to make: its disk copied crash-consistent (a
    # snapshot's or a backup's source). A running container is frozen (its cgroup's freezer: no
    # process runs) and its disk's filesystem frozen (fsfreeze: everything written so far is on
    # the disk, nothing more is written), the disk file copied (sparse: only what is written),
    # then both thawed; `FROZEN <ms>` says for how long. A thaw also runs when the script is
    # cut short (its SSH session lost), and every call thaws first what a lost run left frozen.
    local DIR="$1" COPY="$2" STARTED
    ONE_FROZEN_VM="$(basename "$DIR")"
    ONE_FROZEN_DIR="$DIR"
    one_thaw
    rm -f "$COPY.tmp"
    trap one_thaw EXIT HUP INT TERM
    STARTED=$(date +%s%3N)
    [ "$(one_lxc_state "$ONE_FROZEN_VM")" != RUNNING ] || lxc-freeze -P "$LXCPATH" -n "$ONE_FROZEN_VM"
    if mountpoint -q "$(one_disk_dir "$DIR")"; then fsfreeze -f "$(one_disk_dir "$DIR")"; fi
    cp --sparse=always "$DIR/disk.img" "$COPY.tmp"
    one_thaw
    trap - EXIT HUP INT TERM
    echo "FROZEN $(( $(date +%s%3N) - STARTED ))"
    sync -f "$COPY.tmp"
    mv "$COPY.tmp" "$COPY"
}

one_lxc_state() {
    lxc-info -P "$LXCPATH" -n "$1" -s -H 2>/dev/null || echo STOPPED
}

one_thaw() {
    # What one_disk_copy_frozen froze (ONE_FROZEN_DIR), thawed; nothing when nothing is.
    local MOUNTED
    MOUNTED=$(one_disk_dir "$ONE_FROZEN_DIR")
    if mountpoint -q "$MOUNTED"; then fsfreeze -u "$MOUNTED" 2>/dev/null || true; fi
    if [ "$(one_lxc_state "$ONE_FROZEN_VM")" = FROZEN ]; then
        lxc-unfreeze -P "$LXCPATH" -n "$ONE_FROZEN_VM" || true
    fi
}

one_disk_replace() {
    # $1 container directory, $2 a disk file to become its disk, $3 1 to start the container
    # after: the container stopped, its disk unmounted and replaced, mounted again (a snapshot
    # reverted to, a backup restored in place).
    local DIR="$1" VM
    VM=$(basename "$DIR")
    if [ "$(one_lxc_state "$VM")" != STOPPED ]; then
        lxc-stop -P "$LXCPATH" -n "$VM" -t 20 || lxc-stop -P "$LXCPATH" -n "$VM" -k
    fi
    one_rootfs_unmount "$DIR"
    mv -f "$2" "$DIR/disk.img"
    one_disk_mount "$DIR"
    if [ "$3" = 1 ]; then
        one_before_start "$DIR"
        lxc-start -P "$LXCPATH" -n "$VM"
        lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30
        echo "STARTED $VM"
    fi
}

one_disk_create() {
    # $1 container directory, $2 size in MB, $3 owner of its root: $1/disk.img, a sparse file
    # with an empty ext4 filesystem of that size (no blocks reserved for root: the container's
    # root is the only user). Inode tables and journal are left to be zeroed lazily: a sparse
    # file reads as zeros anyway, and making a 10 GB disk then writes almost nothing.
    local DIR="$1" SIZE="$2" ROOT_ID="$3"
    rm -f "$DIR/disk.img.new"
    truncate -s "${SIZE}M" "$DIR/disk.img.new"
    mkfs.ext4 -q -F -m 0 -E "root_owner=$ROOT_ID:$ROOT_ID,lazy_itable_init=1,lazy_journal_init=1" \
        "$DIR/disk.img.new"
    mv "$DIR/disk.img.new" "$DIR/disk.img"
}

one_rootfs_create() {
    # $1 container directory (absent), $2 image tar, $3 its sha256, $4 root id, $5 id count,
    # $6 disk size in MB (empty: no disk, an unbounded layer): $1/rootfs ready to be written
    # to, an overlay where the kernel has overlayfs. Sets ROOTFS_CONF: the container
    # configuration's lines for it.
    local DIR="$1" IMAGE="$2" SHA="$3" ROOT_ID="$4" COUNT="$5" SIZE="${6:-}" LOWER UPPER
    mkdir -p "$DIR/rootfs"
    one_rootfs_hook_install
    ROOTFS_CONF="lxc.hook.pre-start = $ONE_ROOTFS_HOOK mount
lxc.hook.post-stop = $ONE_ROOTFS_HOOK unmount"
    UPPER="$DIR"
    if [ -n "${RESTORED:-}" ]; then
        # A disk fetched from a backup and verified (backups/hostscripts/vm-backup.sh) is
        # this VM's disk, whatever size it has.
        [ -f "$RESTORED" ] || { echo "ERROR the restored disk $RESTORED is missing" >&2; exit 8; }
        mv "$RESTORED" "$DIR/disk.img"
        SIZE=$(( $(stat -c %s "$DIR/disk.img") / 1048576 ))
    elif [ -n "$SIZE" ]; then
        one_disk_create "$DIR" "$SIZE" "$ROOT_ID"
    fi
    if [ -n "$SIZE" ]; then
        UPPER="$DIR/disk"
        one_overlay_available || UPPER="$DIR/rootfs"
        mkdir -p "$UPPER"
        if ! mount -o loop,noatime "$DIR/disk.img" "$UPPER"; then
            echo "ERROR the VM's disk could not be mounted (a loop device is needed)" >&2
            exit 7
        fi
        echo "DISK ${SIZE} MB (ext4 on a sparse file, mounted at ${UPPER#"$DIR"/})"
    fi
    if ! one_overlay_available; then
        one_unpack "$IMAGE" "$DIR/rootfs" "$ROOT_ID" "$COUNT"
        [ -n "$SIZE" ] || ROOTFS_CONF=""
        echo "ROOTFS unpacked (no overlayfs on this host)"
        return
    fi
    one_prepare_image "$IMAGE" "$SHA" "$ROOT_ID" "$COUNT"
    LOWER="$ONE_PREPARED/$SHA-$ROOT_ID"
    mkdir -p "$UPPER/delta" "$UPPER/work"
    # The merged tree's root takes its owner and mode from the writable layer's.
    chown --reference="$LOWER" "$UPPER/delta"
    chmod --reference="$LOWER" "$UPPER/delta"
    echo "$LOWER" > "$DIR/rootfs.lower"
    LXC_CONFIG_FILE="$DIR/config" "$ONE_ROOTFS_HOOK" mount
    echo "ROOTFS overlay on the prepared image"
}
