"""Which host a VM runs on: the provision's policy over the RUNNING hosts with room
(vms/capacity.py), OpenNebula's scheduler policies:

- packing: the fullest host that fits first (least free memory, then most VMs), so whole
  hosts stay free for big VMs;
- striping (the default): spread, the host with the most free memory first, then fewest VMs;
- load-aware: the lowest monitored CPU load first (the latest host sample, from monitoring
  through the `host_load` hook); hosts without a recent sample come after, by striping, and
  with no samples at all it is striping.

A VM that fits nowhere is not refused: it stays PENDING with no host and the reason in
`placement_reason`, and is placed when room appears (a host joined, a VM released, and each
monitoring cycle as a backstop) or by an operator (`deploy`). Its host's parts of its NICs
(the public container address, the port block) are allocated when it is placed.

Placement in a cluster is serialised by locking the cluster's host rows (SELECT ... FOR
UPDATE; SQLite serialises writers anyway) in the placing transaction, and a waiting VM is
taken by a conditional UPDATE (still PENDING, still without a host), so two placers never put
one VM on two hosts nor overfill a host.
"""

import ipaddress
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from core.lookup import find
from core.tenancy import check_change
from provisions import hostconfig
from provisions.choices import HostState, NetworkKind, PlacementPolicy, ProvisionState
from provisions.hooks import Hook
from provisions.models import Host, Provision
from provisions.queries import hosts_for
from vms import capacity, ports
from vms.choices import VMState
from vms.jobstart import start_job, vm_log
from vms.models import NIC, VM

log = logging.getLogger(__name__)

host_load: "Hook[[list], dict]" = Hook(
    "host_load",
    """host_load(hosts) -> {host id: CPU load in % of all its CPUs}: the latest recent
    monitoring sample of each host that has one (monitoring registers it). One query.""",
)


def _striping(room: capacity.Room) -> tuple:
    return (-room.free("memory"), room.vms, room.host.pk)


def _packing(room: capacity.Room) -> tuple:
    return (room.free("memory"), -room.vms, room.host.pk)


def _loads(rooms) -> dict:
    found = {}
    for result in host_load([room.host for room in rooms]):
        found.update(result)
    return found


def ranked(policy: str, rooms: list[capacity.Room], demand) -> list[capacity.Room]:
    """The rooms that fit `demand`, best first by `policy`."""
    fitting = [room for room in rooms if room.fits(demand)]
    if policy == PlacementPolicy.PACKING:
        return sorted(fitting, key=_packing)
    if policy == PlacementPolicy.LOAD_AWARE and fitting:
        loads = _loads(fitting)
        return sorted(
            fitting,
            key=lambda room: (
                (0, loads[room.host.pk]) if room.host.pk in loads else (1, 0),
                _striping(room),
            ),
        )
    return sorted(fitting, key=_striping)


def running_rooms(provision: Provision) -> list[capacity.Room]:
    hosts = provision.hosts.filter(state=HostState.RUNNING).order_by("id")
    return list(capacity.rooms(hosts).values())


def choose(provision: Provision, rooms: list[capacity.Room], demand):
    """(room, None) for the best host by the provision's policy, or (None, why not)."""
    if not rooms:
        return None, f"no RUNNING host in cluster {provision.name}"
    best = ranked(provision.placement_policy, rooms, demand)
    if best:
        return best[0], None
    return None, capacity.shortfall(rooms, demand)


def lock_hosts(provision_id: int) -> None:
    """One placement at a time per cluster, until the caller's transaction ends."""
    list(Host.objects.select_for_update().filter(provision=provision_id).values_list("pk"))


def _next_ip(host: Host) -> str:
    network = ipaddress.ip_interface(hostconfig.BRIDGE_CIDR).network
    used = set(
        NIC.objects.filter(vm__host=host, network__kind=NetworkKind.PUBLIC)
        .exclude(vm__state=VMState.DONE)
        .values_list("ip", flat=True)
    )
    gateway = str(ipaddress.ip_interface(hostconfig.BRIDGE_CIDR).ip)
    for address in network.hosts():
        if str(address) != gateway and str(address) not in used:
            return str(address)
    raise ValidationError(f"host {host.name} has no free container address")


def put(vm: VM, host: Host, why: str) -> bool:
    """Place a waiting VM on `host` (the caller holds the cluster's lock and checked the
    room): its public NICs get their address and port block on the host, then its deploy job
    starts. False when the VM was placed or ended meanwhile. ValidationError, with nothing
    changed, when the host has no address or port block left."""
    with transaction.atomic():
        taken = VM.objects.filter(pk=vm.pk, host=None, state=VMState.PENDING).update(
            host=host, placement_reason=""
        )
        if not taken:
            return False
        vm.host, vm.placement_reason = host, ""
        try:
            for nic in vm.nics.filter(network__kind=NetworkKind.PUBLIC):
                NIC.objects.filter(pk=nic.pk).update(ip=_next_ip(host))
                ports.allocate(host, nic)
        except ports.NoFreePorts as exc:
            raise ValidationError(str(exc)) from None
        vm_log(vm, f"placed on {host.name} ({host.public_ip}): {why}")
        start_job(vm, "deploy")
    return True


def wait(vm: VM, reason: str) -> None:
    """Leave `vm` PENDING without a host, saying why."""
    if (
        VM.objects.filter(pk=vm.pk, host=None)
        .exclude(placement_reason=reason)
        .update(placement_reason=reason)
    ):
        vm_log(vm, f"waiting for room: {reason}", "warning")
    vm.placement_reason = reason


def waiting_in(provision_id: int):
    """The cluster's VMs that wait for a host (a VM's cluster is its networks')."""
    return (
        VM.objects.filter(state=VMState.PENDING, host=None, nics__network__provision=provision_id)
        .distinct()
        .order_by("id")
    )


def place_pending(provision: Provision) -> int:
    """Place the cluster's waiting VMs where they now fit, oldest first (a VM that still fits
    nowhere keeps waiting, and a smaller one after it may go); how many were placed."""
    if provision.state != ProvisionState.RUNNING:
        return 0
    placed = 0
    with transaction.atomic():
        lock_hosts(provision.pk)
        waiting = list(waiting_in(provision.pk))
        if not waiting:
            return 0
        rooms = running_rooms(provision)
        for vm in waiting:
            demand = capacity.demand_of(vm)
            room, why = choose(provision, rooms, demand)
            if room is None:
                wait(vm, why)
                continue
            try:
                done = put(vm, room.host, f"room appeared ({provision.placement_policy})")
            except ValidationError as exc:
                wait(vm, " ".join(exc.messages))
                continue
            if done:
                room.take(demand)
                placed += 1
    return placed


def place_pending_safely(provision: Provision, *_args) -> int:
    """place_pending for hooks and jobs (a host joined, a VM released): a failure is logged,
    never the caller's; the next monitoring cycle tries again."""
    try:
        return place_pending(provision)
    except Exception:
        log.exception("provision %s: placing waiting VMs failed", provision.pk)
        return 0


def place_everywhere() -> int:
    """Each monitoring cycle's backstop: every RUNNING cluster with a waiting VM tried again.
    One query when no VM waits."""
    ids = set(
        VM.objects.filter(state=VMState.PENDING, host=None)
        .values_list("nics__network__provision", flat=True)
        .distinct()
    )
    ids.discard(None)
    if not ids:
        return 0
    clusters = Provision.objects.filter(pk__in=ids, state=ProvisionState.RUNNING)
    return sum(place_pending_safely(provision) for provision in clusters)


DEPLOY_REFUSED = (
    "only an operator may choose a VM's host (onevm deploy); the portal places VMs by the "
    "cluster's placement policy"
)


def cluster_of(vm: VM) -> Provision | None:
    """The cluster a VM runs in or waits for: its networks'."""
    return Provision.objects.filter(networks__nics__vm=vm).distinct().first()


def _chosen_host(user, cluster: Provision, ref) -> Host:
    ref = str(ref).strip()
    hosts = hosts_for(user).exclude(state=HostState.REMOVED).select_related("provision")
    try:
        return find(hosts.filter(provision=cluster), ref, "host")
    except ValidationError:
        elsewhere = hosts.filter(**({"pk": int(ref)} if ref.isdigit() else {"name": ref}))
        elsewhere = elsewhere.first()
        names = ", ".join(hosts.filter(provision=cluster).values_list("name", flat=True))
        where = (
            f"host {ref!r} is in cluster {elsewhere.provision.name}"
            if elsewhere
            else (f"host {ref!r} not found")
        )
        raise ValidationError(
            {
                "host": f"{where}; the VM's networks are in cluster {cluster.name}: choose one of "
                f"its hosts ({names or 'none yet'})"
            }
        ) from None


def deploy(user, vm: VM, host_ref) -> VM:
    """`onevm deploy NAME HOST` (operators): place a waiting VM on the chosen host, checked
    as the policy's choice is (the host RUNNING, in the VM's cluster, with room)."""
    check_change(user, vm)
    if not user.is_staff:
        raise PermissionDenied(DEPLOY_REFUSED)
    if vm.state != VMState.PENDING or vm.host_id:
        where = f" on {vm.host.name}" if vm.host_id else ""
        raise ValidationError(
            f"VM {vm.name} is {vm.state}{where}; deploy places a PENDING VM that waits for a host"
        )
    cluster = cluster_of(vm)
    if cluster is None:
        raise ValidationError(f"VM {vm.name} has no network, so no cluster to run in")
    host = _chosen_host(user, cluster, host_ref)
    with transaction.atomic():
        lock_hosts(cluster.pk)
        host = Host.objects.get(pk=host.pk)
        if host.state != HostState.RUNNING:
            raise ValidationError(
                {"host": f"host {host.name} is {host.state}, not RUNNING: choose a RUNNING host"}
            )
        room = capacity.rooms([host])[host.pk]
        demand = capacity.demand_of(vm)
        if not room.fits(demand):
            raise ValidationError({"host": capacity.shortfall([room], demand)})
        if not put(vm, host, f"deployed there by {user}"):
            raise ValidationError(f"VM {vm.name} was placed or terminated meanwhile")
    return vm
