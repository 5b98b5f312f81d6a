#!/bin/bash
# Private networking (VXLAN + BGP-EVPN), shipped over SSH by the portal after host-setup.sh
# (provisions/hostconfig/evpn.py). Idempotent: every step checks before it changes.
# Inputs (environment, quoted or validated by the portal):
#   ONE_EVPN_ACTION  apply | teardown
#   ONE_PRIVATE_IP   this host's VPC address: VTEP address and BGP router ID      (apply)
#   ONE_VNIS         space-separated VXLAN network identifiers, one per network    (apply)
#   ONE_VXLAN_PORT, ONE_VXLAN_MTU                                                  (apply)
#   ONE_FRR_CONF     the whole frr.conf, rendered by the portal                    (apply)
#   ONE_FRR_STANDALONE=1  run FRR's daemons from $ONE_EDGE_BASE/frr (config, vty sockets, pid
#                    files) instead of the distribution's service; the default where systemd
#                    is not running. Lab hosts set it: several share one machine.
#   ONE_FRR_MODE     standalone | service, where the choice above is not wanted; with
#   ONE_FRR_ETC, ONE_SYSTEMD_ETC (default /etc/frr, /etc/systemd/system) the service's files
#                    (tests run the service path against their own directories this way)
# Devices: vxlan<vni> (nolearning, local = ONE_PRIVATE_IP, no static remotes: EVPN type-3
# routes fill the flood list) enslaved to the bridge onevx<vni>.
# Every host of a cluster pays this script's CPU on each deploy: checks are made by bash itself
# (/sys, /proc, the files), device changes go to one `ip -batch`, and FRR's daemons, which cost
# most of it, start once with their final configuration.
set -euo pipefail
VERSION=1
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
ACTION="${ONE_EVPN_ACTION:-apply}"
FRRDIR="$BASE/frr"
RUNDIR="$FRRDIR/run"
DAEMONS=/usr/lib/frr
# @include steps.sh
# @include files.sh

FRR_ETC="${ONE_FRR_ETC:-/etc/frr}"
SYSTEMD_ETC="${ONE_SYSTEMD_ETC:-/etc/systemd/system}"
MODE="${ONE_FRR_MODE:-}"
if [ -z "$MODE" ]; then
    MODE=service
    [ "${ONE_FRR_STANDALONE:-}" != 1 ] && [ -d /run/systemd/system ] || MODE=standalone
fi
case "$MODE" in
    standalone) VTYSH=(vtysh --vty_socket "$RUNDIR") ;;
    service) VTYSH=(vtysh) ;;
    *) echo "ERROR ONE_FRR_MODE must be standalone or service, not $MODE" >&2; exit 2 ;;
esac

proc_alive() {
    # Process $1 runs; a zombie does not (where nothing reaps orphans, a killed daemon lingers
    # as one and kill -0 would still succeed). Read from /proc by bash.
    local stat=""
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

pid_alive() {  # $1 a pid file
    local pid=""
    [ -f "$1" ] && read -r pid < "$1" && [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid"
}

stop_daemon() {
    local pidfile="$RUNDIR/$1.pid" pid
    if pid_alive "$pidfile"; then
        read -r pid < "$pidfile"
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do proc_alive "$pid" || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    [ ! -e "$pidfile" ] && [ ! -e "$RUNDIR/$1.vty" ] || rm -f "$pidfile" "$RUNDIR/$1.vty"
}

vty_group() {
    # FRR's vty group into VTY_GROUP: frrvty where the package made it, else frr (read from
    # /etc/group: the package's groups are local ones).
    VTY_GROUP=frr
    one_read_whole /etc/group
    [[ $'\n'"$ONE_TEXT" != *$'\n'frrvty:* ]] || VTY_GROUP=frrvty
}

start_daemon() {
    local name="$1" conf="$2"
    # Root with the vty group (FRR insists on it), no TCP vty, everything under $RUNDIR.
    "$DAEMONS/$name" -d -u root -g "$VTY_GROUP" -P 0 -f "$conf" --vty_socket "$RUNDIR" \
        -i "$RUNDIR/$name.pid" -z "$RUNDIR/zserv.api" --log "file:$FRRDIR/$name.log" \
        </dev/null >/dev/null 2>&1
    for ((i = 0; i < 100; i++)); do [ -S "$RUNDIR/$name.vty" ] && return 0; sleep 0.05; done
    echo "ERROR $name did not start; see $FRRDIR/$name.log" >&2
    tail -n 5 "$FRRDIR/$name.log" >&2 || true
    exit 6
}

our_devices() {
    # The devices this script names (vxlan<vni>, onevx<vni>) into OUR_DEVICES, from /sys: no
    # process per look, nor for the answer.
    local path name
    OUR_DEVICES=()
    for path in /sys/class/net/vxlan* /sys/class/net/onevx*; do
        name="${path##*/}"
        [[ "$name" =~ ^(vxlan|onevx)[0-9]+$ ]] && [ -e "$path" ] && OUR_DEVICES+=("$name")
    done
    return 0
}

has_local_address() {
    # $1 is one of this host's own IPv4 addresses: the kernel's local routing table lists it
    # as "/32 host LOCAL" under its "|-- a.b.c.d" line in /proc/net/fib_trie (this network
    # namespace's), read by bash instead of a run of `ip addr`: whole, and matched by one
    # regular expression (the address's line, then its entries, one of them that one).
    local pattern=$'[|]-- '"${1//./[.]}"$'\n( +/[^\n]*\n)* +/32 host LOCAL'
    one_read_whole /proc/net/fib_trie
    [[ "$ONE_TEXT" =~ $pattern ]]
}

if [ "$ACTION" = teardown ]; then
    step "FRR stop ($MODE)"
    if [ "$MODE" = standalone ]; then
        stop_daemon bgpd
        stop_daemon zebra
    elif [ -f "$FRR_ETC/frr.conf" ] && grep -q "Generated by Edge Portal" "$FRR_ETC/frr.conf"; then
        systemctl stop frr 2>/dev/null || service frr stop 2>/dev/null || true
        printf 'frr defaults traditional\nlog syslog informational\n' > "$FRR_ETC/frr.conf"
        sed -i 's/^bgpd=yes/bgpd=no/' "$FRR_ETC/daemons"
    fi
    step "VXLAN devices and bridges"
    our_devices
    for dev in "${OUR_DEVICES[@]}"; do
        ip link del "$dev" 2>/dev/null || true
        echo "VXLAN removed $dev"
    done
    rm -rf "$FRRDIR"
    steps_done
    echo "DONE evpn teardown version=$VERSION"
    exit 0
fi

PRIVATE_IP="$ONE_PRIVATE_IP"
PORT="${ONE_VXLAN_PORT:-4789}"
MTU="${ONE_VXLAN_MTU:-1450}"
VNIS="${ONE_VNIS:-}"

step "FRR package"
if [ ! -x "$DAEMONS/bgpd" ] || ! command -v vtysh >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq frr >/dev/null
    else
        echo "ERROR: FRR is not installed and this host has no apt-get to install it" >&2
        exit 3
    fi
fi
# The version, known once per installed binary (kept beside the state, not in $FRRDIR, which
# teardown removes): read from zebra's own log where this script starts it (zebra logs it as it
# starts, below), else asked of bgpd, whose start alone costs a few ms of CPU.
one_read_cached "$BASE/frr.version" "$DAEMONS/bgpd"
FRR_VERSION=${ONE_CACHED##* }  # "8.4.4" (earlier runs kept "bgpd version 8.4.4")
frr_version_known() {  # $1 the version, or empty to ask bgpd; kept for the next run
    FRR_VERSION="$1"
    if [ -z "$FRR_VERSION" ]; then
        FRR_VERSION=$("$DAEMONS/bgpd" --version)  # "bgpd version 8.4.4" and more lines
        FRR_VERSION=${FRR_VERSION%%$'\n'*}
        FRR_VERSION=${FRR_VERSION##* }
    fi
    echo "$FRR_VERSION" > "$BASE/frr.version"
    echo "FRR $FRR_VERSION mode=$MODE"
}
if [ -n "$FRR_VERSION" ]; then
    echo "FRR $FRR_VERSION mode=$MODE"
elif [ "$MODE" = service ]; then
    frr_version_known ""
fi

step "VXLAN devices"
# ip's batch input is split on blanks: every value in it is checked here first.
[[ "$PRIVATE_IP" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ && "$PORT" =~ ^[0-9]+$ && "$MTU" =~ ^[0-9]+$ \
    && "$VNIS" =~ ^[0-9\ ]*$ ]] || {
    echo "ERROR bad VXLAN input: address $PRIVATE_IP, port $PORT, MTU $MTU, VNIs $VNIS" >&2
    exit 2
}
has_local_address "$PRIVATE_IP" || {
    echo "ERROR: $PRIVATE_IP (the VPC address) is not on this host; it has" \
        "$(ip -4 -o addr show | awk '$2 != "lo" {printf "%s %s; ", $2, $4}')" >&2
    exit 4
}
# Device changes are collected and made by one `ip -batch`; an existing VXLAN device's details
# come from one listing of them all (a line each), read once the first is needed.
VXLANS=""
BATCH=""
our_devices
for dev in "${OUR_DEVICES[@]}"; do
    vni="${dev#vxlan}"; vni="${vni#onevx}"
    case " $VNIS " in
        *" $vni "*) ;;
        *) BATCH+="link del $dev"$'\n'; echo "VXLAN removed $dev" ;;
    esac
done
for vni in $VNIS; do
    dev="vxlan$vni"; bridge="onevx$vni"
    add=yes
    if [ -e "/sys/class/net/$dev" ]; then
        [ -n "$VXLANS" ] || VXLANS=$'\n'"$(ip -d -o link show type vxlan)"
        # This device's line: after its "N: vxlanV:" (or "vxlanV@...") header, to the newline.
        details="${VXLANS#*$'\n'[0-9]*: $dev[:@]}"
        details="${details%%$'\n'*}"
        if [[ "$details" != *"id $vni "* || "$details" != *"local $PRIVATE_IP "* \
            || "$details" != *"dstport $PORT "* || "$details" != *nolearning* ]]; then
            BATCH+="link del $dev"$'\n'
            echo "VXLAN replaced $dev (its id, address, port or learning differed)"
        else
            add=no
        fi
    fi
    [ "$add" = no ] \
        || BATCH+="link add $dev type vxlan id $vni local $PRIVATE_IP dstport $PORT nolearning"$'\n'
    [ -e "/sys/class/net/$bridge" ] || BATCH+="link add $bridge type bridge"$'\n'
    BATCH+="link set $dev mtu $MTU master $bridge"$'\n'
    BATCH+="link set $bridge up"$'\n'"link set $dev up"$'\n'
    echo "VXLAN vni=$vni dev=$dev bridge=$bridge local=$PRIVATE_IP"
done
[ -z "$BATCH" ] || ip -batch - <<<"${BATCH%$'\n'}"

step "configuration of FRR ($MODE)"
if [ "$MODE" = standalone ]; then
    [ -d "$RUNDIR" ] || mkdir -p -m 750 "$FRRDIR" "$RUNDIR"  # one process for both
else
    [ -d "$FRRDIR" ] || mkdir -p -m 750 "$FRRDIR"
fi
CONF="$ONE_FRR_CONF"
while [[ "$CONF" == *$'\n' ]]; do CONF=${CONF%$'\n'}; done  # as one_replace_file compares
CHANGED=no
one_replace_file "$FRRDIR/frr.conf" "$CONF" && CHANGED=yes

if [ "$MODE" = standalone ]; then
    vty_group
    hostname_line="hostname edge-host"
    while IFS= read -r line; do
        [[ "$line" == "hostname "* ]] && { hostname_line=$line; break; }
    done <<<"$CONF"
    printf '%s\nlog syslog informational\n' "$hostname_line" > "$FRRDIR/zebra.conf"
    if ! pid_alive "$RUNDIR/zebra.pid"; then
        stop_daemon zebra
        start_daemon zebra "$FRRDIR/zebra.conf"
        CHANGED=yes
        ZEBRA_STARTED=yes
    fi
    if [ -z "$FRR_VERSION" ]; then
        # The zebra this run started logged "... zebra 8.4.4 starting: vty@0" last; any other
        # zebra may predate the installed binary, so bgpd is asked instead.
        FOUND=""
        if [ "${ZEBRA_STARTED:-}" = yes ]; then
            while IFS= read -r line; do
                [[ "$line" =~ \ zebra\ ([^ ]+)\ starting: ]] && FOUND=${BASH_REMATCH[1]}
            done < "$FRRDIR/zebra.log"
        fi
        frr_version_known "$FOUND"
    fi
    if [ "$CHANGED" = yes ] || ! pid_alive "$RUNDIR/bgpd.pid"; then
        stop_daemon bgpd
        start_daemon bgpd "$FRRDIR/frr.conf"
        echo "FRR bgpd (re)started"
    fi
else
    # A run that changes nothing starts one process here (systemctl is-active): the files
    # are compared, and the unit's enablement read, by bash.
    RESTART=no
    one_read_whole "$FRR_ETC/frr.conf"
    if [ "$ONE_TEXT" != "$CONF"$'\n' ]; then
        install -o frr -g frr -m 640 "$FRRDIR/frr.conf" "$FRR_ETC/frr.conf.new"
        mv "$FRR_ETC/frr.conf.new" "$FRR_ETC/frr.conf"
        CHANGED=yes
    fi
    one_read_whole "$FRR_ETC/daemons"
    if [[ $'\n'"$ONE_TEXT" != *$'\n'bgpd=yes* ]]; then
        if [[ $'\n'"$ONE_TEXT" == *$'\n'bgpd=* ]]; then
            sed -i 's/^bgpd=.*/bgpd=yes/' "$FRR_ETC/daemons"
        else
            echo bgpd=yes >> "$FRR_ETC/daemons"  # a daemons file without the line at all
        fi
        RESTART=yes
    fi
    [ -e "$SYSTEMD_ETC/multi-user.target.wants/frr.service" ] \
        || systemctl enable frr >/dev/null 2>&1 || true
    if ! systemctl is-active -q frr; then
        RESTART=yes
    fi
    if [ "$RESTART" = yes ]; then
        systemctl restart frr
        echo "FRR service restarted"
    elif [ "$CHANGED" = yes ]; then
        # frr-reload.py applies the difference (frr-pythontools); without it, a restart.
        if systemctl reload frr 2>/dev/null; then
            echo "FRR service reloaded"
        else
            systemctl restart frr
            echo "FRR service restarted (its reload failed)"
        fi
    fi
fi
# A helper for operators: the right vtysh for this host's FRR.
printf -v HELPER ' %q' "${VTYSH[@]}"
HELPER=$'#!/bin/sh\nexec'"$HELPER"' "$@"'
if [ ! -x "$FRRDIR/vtysh" ] || [ "$(< "$FRRDIR/vtysh")" != "$HELPER" ]; then
    install -m 755 /dev/stdin "$FRRDIR/vtysh" <<<"$HELPER"  # one process: content and mode
fi

step "BGP up"
if [ "$MODE" = standalone ]; then
    # The daemons this script runs: alive, each answering on its vty socket (start_daemon
    # waited for it, so it had read its configuration). A vtysh run would say the same for
    # ~35 ms of CPU on every host.
    for name in zebra bgpd; do
        pid_alive "$RUNDIR/$name.pid" && [ -S "$RUNDIR/$name.vty" ] || {
            echo "ERROR: FRR's $name is not running; see $FRRDIR/$name.log" >&2
            exit 7
        }
    done
    echo "FRR up (zebra, bgpd) VNIs $VNIS"
    steps_done
    echo "DONE evpn apply version=$VERSION"
    exit 0
fi
if [ "$RESTART" = no ] && [ "$CHANGED" = no ]; then
    # The service is active and was left alone: what it runs is what it ran, and a vtysh run
    # to say so would cost ~35 ms of CPU on every host.
    echo "FRR up (service, unchanged) VNIs $VNIS"
    steps_done
    echo "DONE evpn apply version=$VERSION"
    exit 0
fi
# The distribution's service starts in the background: ask it, until it answers (one vtysh
# run answers both questions).
STATUS=""
for ((i = 0; i < 100; i++)); do
    STATUS=$("${VTYSH[@]}" -c 'show bgp l2vpn evpn summary' -c 'show evpn vni' 2>/dev/null) && break
    STATUS=""
    sleep 0.1
done
[ -n "$STATUS" ] || {
    echo "ERROR: FRR ($MODE) does not answer vtysh after 10 s; see $FRRDIR/*.log" >&2
    exit 7
}
VNI_LIST=""
while read -r first _; do
    [[ "$first" =~ ^[0-9]+$ ]] && VNI_LIST+="${VNI_LIST:+,}$first"
done <<<"$STATUS"
echo "FRR vnis=$VNI_LIST"
steps_done
echo "DONE evpn apply version=$VERSION"
