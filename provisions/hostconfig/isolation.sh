# Container isolation on an edge host: shell functions included (by the portal, before the
# script is shipped) into host-setup.sh, vm-deploy.sh and vm-action.sh. Needs BASE set.
#
# Id map: ONE shared subordinate range for every container of a host, OpenNebula's
# 600100001-600165537 (root:600100001:65536 in /etc/subuid and /etc/subgid). Why shared and not
# one range per VM: the containers are already apart by their namespaces (pid, mount, net, ipc,
# uts), so the same host uid for two containers' root gives neither access to the other; what
# the map must do is make container root nobody on the host, and one range does that with no
# allocation state to keep, lose or collide across retries and take-overs. It starts just above
# useradd's SUB_UID_MAX (600100000), so accounts added later never get ids overlapping it.
# (LXD's security.idmap.isolated, a range per container, would also fence one container's
# escaped root off the other containers' files: a possible later step.)

ONE_CGROUP_ENV="$BASE/cgroup.env"
ONE_IDMAP_FILE="$BASE/idmap"

one_idmap() {
    # "start count" of the host's range (host configuration writes it; the default before).
    local MAP="600100001 65536"
    [ -f "$ONE_IDMAP_FILE" ] && read -r MAP < "$ONE_IDMAP_FILE"
    echo "$MAP"
}

one_cgroup_v2() {
    [ -f /sys/fs/cgroup/cgroup.controllers ]
}

one_apparmor() {
    # AppArmor usable on this host (Ubuntu droplets; not in every lab kernel).
    local ENABLED=""
    [ -r /sys/module/apparmor/parameters/enabled ] \
        && read -r ENABLED < /sys/module/apparmor/parameters/enabled
    [ "$ENABLED" = Y ] && command -v apparmor_parser >/dev/null 2>&1
}

one_enable_controllers() {
    # $1 a cgroup v2 directory: cpu, memory and pids handed down to its children (each write
    # only where missing; read with bash itself, host set-up runs this on every host).
    local CONTROL="$1/cgroup.subtree_control" ENABLED="" C
    read -r ENABLED < "$CONTROL" || true
    for C in cpu memory pids; do
        [[ " $ENABLED " == *" $C "* ]] || echo "+$C" > "$CONTROL"
    done
}

one_cgroup_parent() {
    # The parent cgroup of every container on the host, limited so that the host keeps memory,
    # CPU and process slots for its sshd and monitoring whatever the containers do. Limits are
    # (re)applied each time: cgroups do not survive a reboot, the settings file does.
    [ -f "$ONE_CGROUP_ENV" ] || return 0
    local CG_PARENT CG_MEMORY_MAX CG_PIDS_MAX CG_CPU_WEIGHT
    # shellcheck disable=SC1090
    . "$ONE_CGROUP_ENV"
    if one_cgroup_v2; then
        local ROOT=/sys/fs/cgroup
        # The root's may be refused (a delegated or nested hierarchy): the parent's may not.
        one_enable_controllers "$ROOT" 2>/dev/null || true
        [ -d "$ROOT/$CG_PARENT" ] || mkdir "$ROOT/$CG_PARENT"
        one_enable_controllers "$ROOT/$CG_PARENT"
        echo "$CG_MEMORY_MAX" > "$ROOT/$CG_PARENT/memory.max"
        echo "$CG_PIDS_MAX" > "$ROOT/$CG_PARENT/pids.max"
        echo "$CG_CPU_WEIGHT" > "$ROOT/$CG_PARENT/cpu.weight"
    else
        local ROOT=/sys/fs/cgroup MISSING=()
        for C in memory pids cpu; do
            [ -d "$ROOT/$C/$CG_PARENT" ] || MISSING+=("$ROOT/$C/$CG_PARENT")
        done
        [ ${#MISSING[@]} = 0 ] || mkdir -p "${MISSING[@]}"  # one process for all three
        echo 1 > "$ROOT/memory/$CG_PARENT/memory.use_hierarchy" 2>/dev/null || true
        echo "$CG_MEMORY_MAX" > "$ROOT/memory/$CG_PARENT/memory.limit_in_bytes"
        echo "$CG_PIDS_MAX" > "$ROOT/pids/$CG_PARENT/pids.max"
        echo $(( CG_CPU_WEIGHT * 1024 / 100 )) > "$ROOT/cpu/$CG_PARENT/cpu.shares"
    fi
    echo "CGROUP parent=$CG_PARENT memory_max=$CG_MEMORY_MAX pids_max=$CG_PIDS_MAX"
}

one_cgroup_parent_name() {
    [ -f "$ONE_CGROUP_ENV" ] || return 0
    (. "$ONE_CGROUP_ENV" && echo "$CG_PARENT")
}

one_traversable() {
    # LXC refuses an unprivileged container whose rootfs path the mapped root cannot walk.
    # Every directory above it must be searchable by that uid: on a droplet (/var/lib) they
    # are; where one is not (the lab's private temporary directories), grant search (x, not
    # read) to others on that directory. One check of the deepest directory answers for the
    # whole path (reaching it needs search on every one above); only if it fails is each
    # directory looked at, all of them by one shell run as that uid (the paths its arguments).
    local DIR="$1" UID_="$2" D ABOVE=() BLOCKED=()
    D="${DIR%/*}"
    setpriv --reuid="$UID_" --regid="$UID_" --clear-groups test -x "$D" 2>/dev/null && return 0
    while [ -n "$D" ]; do
        ABOVE+=("$D")
        D="${D%/*}"
    done
    # shellcheck disable=SC2016  # $d is the inner shell's
    mapfile -t BLOCKED < <(setpriv --reuid="$UID_" --regid="$UID_" --clear-groups \
        sh -c 'for d; do [ -x "$d" ] || printf "%s\n" "$d"; done' sh "${ABOVE[@]}")
    [ ${#BLOCKED[@]} = 0 ] || chmod o+x "${BLOCKED[@]}"
    for D in "${BLOCKED[@]}"; do
        echo "TRAVERSE granted search on $D to the containers' root"
    done
}

one_before_start() {
    # Before a container starts: its parent cgroup in place (after a reboot too) and, for an
    # unprivileged one, its rootfs path walkable by its root. A container made before
    # isolation (privileged, no lxc.cgroup.dir) starts as it always did.
    local DIR="$1" MAP
    one_cgroup_parent >/dev/null
    MAP=$(awk '$1 == "lxc.idmap" && $3 == "u" {print $5; exit}' "$DIR/config")
    [ -z "$MAP" ] || one_traversable "$DIR/rootfs" "$MAP"
}

one_cgroup_cleanup() {
    # After a container is destroyed: the cgroups LXC leaves behind for it (lxc.pivot) go, and
    # the parent too once no container is left (made again, with its limits, before a start).
    # rmdir only: a cgroup still in use is never touched.
    local VM="$1" PARENT H TRY
    PARENT=$(one_cgroup_parent_name)
    [ -n "$PARENT" ] || return 0
    for H in /sys/fs/cgroup /sys/fs/cgroup/*/; do
        H="${H%/}"
        [ -d "$H/$PARENT" ] || continue
        # LXC's monitor may take a moment to leave after the container stopped.
        for TRY in 1 2 3 4 5 6 7 8 9 10; do
            [ -d "$H/$PARENT/$VM" ] || break
            find "$H/$PARENT/$VM" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.2
        done
        rmdir "$H/$PARENT" 2>/dev/null || true
    done
}
