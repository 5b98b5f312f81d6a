#!/bin/bash
# Lifecycle actions on one container: ACTION=stop|start|reboot|destroy, VM=one-<id>.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
LXCPATH="$BASE/lxc"
CHAIN="ONE-$VM"
# @include isolation.sh
# @include rootfs.sh
exists() { [ -f "$LXCPATH/$VM/config" ]; }
case "$ACTION" in
    stop)
        exists && lxc-stop -P "$LXCPATH" -n "$VM" -t 20 2>/dev/null || true ;;
    start)
        # Not `lxc-info | grep -q`: under pipefail an early grep exit reads as "not running".
        if [[ "$(lxc-info -P "$LXCPATH" -n "$VM" -s)" != *RUNNING* ]]; then
            one_disk_mount "$LXCPATH/$VM"
            one_before_start "$LXCPATH/$VM"
            lxc-start -P "$LXCPATH" -n "$VM"
        fi
        lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30 ;;
    reboot)
        lxc-stop -P "$LXCPATH" -n "$VM" -r -t 20 || lxc-stop -P "$LXCPATH" -n "$VM" -k
        one_disk_mount "$LXCPATH/$VM"
        one_before_start "$LXCPATH/$VM"
        lxc-start -P "$LXCPATH" -n "$VM" 2>/dev/null || true
        lxc-wait -P "$LXCPATH" -n "$VM" -s RUNNING -t 30 ;;
    destroy)
        if exists; then lxc-stop -P "$LXCPATH" -n "$VM" -k 2>/dev/null || true; fi
        one_rootfs_unmount "$LXCPATH/$VM"
        # Without a config (a deploy that never finished) what it made goes too.
        if ! exists || ! lxc-destroy -P "$LXCPATH" -n "$VM" -f >/dev/null 2>&1; then
            rm -rf "${LXCPATH:?}/$VM"
        fi
        one_cgroup_cleanup "$VM"
        while iptables -t nat -D ONE-PORTFWD -j "$CHAIN" 2>/dev/null; do :; done
        iptables -t nat -F "$CHAIN" 2>/dev/null || true
        iptables -t nat -X "$CHAIN" 2>/dev/null || true ;;
    *)
        echo "ERROR unknown action $ACTION" >&2; exit 2 ;;
esac
echo "DONE $ACTION $VM"
