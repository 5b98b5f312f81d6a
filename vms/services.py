"""VM operations: instantiate (quota, placement, ports), lifecycle actions, port-forward views.
Pages, API and CLI call these; jobs carry out the host side."""

import logging
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from core import quotas
from core.choices import EventSource
from core.groups import group_for_new
from core.lookup import find
from core.names import check_name
from core.tenancy import check_change
from core.transitions import InvalidTransition, transition
from core.yesno import parse_yes_no
from provisions.choices import HostState, NetworkKind, ProvisionState
from provisions.models import Provision
from provisions.networks import networks_for
from provisions.progress import in_parallel
from vms import addresses, capacity, lxc, placement, ports
from vms.choices import DISK_MB_MAX, VM_ACTIVE, RecoveryPolicy, VMState
from vms.jobstart import enqueue_job, start_job, vm_log
from vms.models import NIC, VM, PortBlock, VMSnapshot, VMTemplate

log = logging.getLogger(__name__)


def _cpus(value) -> str:
    """A sum of CPUs as the same text on every database ('1', not SQLite's 1 and PG's 1.00)."""
    return format(Decimal(str(value)).normalize(), "f")


def vm_needs(cpu, memory_mb, disk_mb, networks) -> dict:
    """What a new VM takes of its owner's and group's quotas."""
    public = sum(1 for network in networks if network.kind == NetworkKind.PUBLIC)
    return {
        "vms": 1,
        "running_vms": 1,
        "cpu": cpu,
        "memory_mb": memory_mb,
        "disk_mb": disk_mb or 0,
        **({"port_blocks": public} if public else {}),
    }


MAX_PRIVATE_NICS = 4


def check_nics(networks) -> None:
    """At most one public NIC (it carries the port forwarding and the default route), and
    private NICs on distinct, ready networks."""
    public = [n for n in networks if n.kind == NetworkKind.PUBLIC]
    private = [n for n in networks if n.kind == NetworkKind.PRIVATE]
    if len(public) > 1:
        raise ValidationError({"nic": "a VM has at most one NIC on the public network"})
    if len({n.pk for n in private}) != len(private):
        raise ValidationError({"nic": "a VM has at most one NIC per private network"})
    if len(private) > MAX_PRIVATE_NICS:
        raise ValidationError({"nic": f"a VM has at most {MAX_PRIVATE_NICS} private NICs"})
    for network in private:
        if not network.vni or not network.address_range:
            raise ValidationError({"nic": f"network {network.name} has no VXLAN segment yet"})


def _place(provision: Provision, vm: VM) -> None:
    """The new VM on the host the provision's policy picks, or PENDING with the reason."""
    room, why = placement.choose(
        provision, placement.running_rooms(provision), capacity.demand_of(vm)
    )
    if room is None:
        placement.wait(vm, why)
        return
    placement.put(vm, room.host, f"{provision.placement_policy} policy")


def instantiate(user, template_ref, *, name: str, nics: list[str] | None = None, group=None) -> VM:
    template = find(
        VMTemplate.objects.for_user(user).select_related("image"), template_ref, "template"
    )
    name = check_name(name, kind="VM name")
    networks = [find(networks_for(user), ref, "network") for ref in (nics or [])]
    if not networks:
        networks = list(template.networks.all())
    if not networks:
        raise ValidationError({"nic": "give at least one network (--nic), e.g. <provision>-public"})
    provisions = {n.provision_id for n in networks}
    if len(provisions) != 1:
        raise ValidationError({"nic": "all NICs must be on networks of the same cluster"})
    provision = networks[0].provision
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            {"nic": f"cluster {provision.name} is {provision.state}, not RUNNING"}
        )
    check_nics(networks)
    disk_mb = template.disk_mb or settings.VM_DISK_MB_DEFAULT
    check_disk(disk_mb, template.image)
    if template.image.datastore.provision_id != provision.pk:
        raise ValidationError(
            {"nic": f"image {template.image.name} is in another cluster's datastore"}
        )
    return create_vm(
        user,
        name=name,
        template=template,
        image=template.image,
        cpu=template.cpu,
        memory_mb=template.memory_mb,
        disk_mb=disk_mb,
        cpu_quota=template.cpu_quota,
        networks=networks,
        provision=provision,
        group=group,
    )


def create_vm(
    user,
    *,
    name,
    template,
    image,
    cpu,
    memory_mb,
    disk_mb,
    cpu_quota,
    networks,
    provision,
    group=None,
) -> VM:
    """A new VM of `user` with NICs on `networks` (checked), placed on a host of `provision`
    by its policy or PENDING with the reason; its deploy job starts once the transaction
    commits. Quota and name checked here; ValidationError with nothing kept otherwise."""
    check_change(user, provision)  # its hosts run the VM: a viewer of its group may not
    group = group_for_new(user, group)  # `group`: a core.groups.Group, or the primary one
    try:
        with transaction.atomic():
            # Under the quota's locks (the user's and the group's rows): concurrent
            # instantiations see each other's VMs instead of all passing one early check.
            quotas.reserve(user, group, vm_needs(cpu, memory_mb, disk_mb, networks), what="this VM")
            placement.lock_hosts(provision.pk)
            vm = VM.objects.create(
                owner=user,
                group=group,
                name=name,
                template=template,
                image=image,
                cpu=cpu,
                memory_mb=memory_mb,
                disk_mb=disk_mb,
                cpu_quota=cpu_quota,
            )
            for index, network in enumerate(networks):
                nic = NIC.objects.create(vm=vm, network=network, index=index)
                if network.kind == NetworkKind.PRIVATE:
                    lease = addresses.allocate(network, nic)
                    vm_log(vm, f"NIC{index}: {lease.ip} on {network.name} ({nic.mac})")
            _place(provision, vm)
    except IntegrityError:
        raise ValidationError({"name": f"you already have a VM named {name!r}"}) from None
    except addresses.NoFreeAddress as exc:
        raise ValidationError(str(exc)) from None
    return vm


PRIVILEGED_REFUSED = (
    "only an operator may set LXC_UNPRIVILEGED = no: a privileged container's root is root "
    "on the host"
)
TEMPLATE_LIMITS = {
    # field: (least, most)
    "cpu": (Decimal("0.01"), Decimal("256")),
    "memory_mb": (16, 1048576),
    "cpu_quota": (Decimal("0.01"), Decimal("256")),
    "pids_max": (16, 4194304),
    "swap_mb": (0, 1048576),
}


def check_disk(disk_mb: int, image) -> None:
    """A disk holds at least an empty filesystem and, without overlayfs, the whole image: the
    image's own size is its floor."""
    image_mb = -(-image.size_bytes // 2**20) if image.size_bytes else 0
    least = max(settings.VM_DISK_MB_MIN, image_mb)
    if not least <= disk_mb <= DISK_MB_MAX:
        raise ValidationError(
            {
                "disk_mb": f"DISK SIZE {disk_mb} MB is outside {least}-{DISK_MB_MAX} MB "
                f"(at least {settings.VM_DISK_MB_MIN} MB and image {image.name}'s "
                f"{image_mb} MB): give a size in that range"
            }
        )


def yes_no(value, field: str = "LXC_UNPRIVILEGED") -> bool:
    """A template's yes/no field as a boolean; a ValidationError naming `field` otherwise."""
    try:
        return parse_yes_no(value)
    except ValueError:
        raise ValidationError({field: f"{field} must be yes or no, not {value!r}"}) from None


def check_privileged(user, unprivileged: bool) -> None:
    """LXC_UNPRIVILEGED = no is an operator's decision (403 for anyone else)."""
    if not unprivileged and not user.is_staff:
        raise PermissionDenied(PRIVILEGED_REFUSED)


def update_template(user, template: VMTemplate, changes: dict) -> VMTemplate:
    """Change a template's sizing, limits and isolation. `changes` holds only the fields given
    (None clears an optional limit)."""
    check_change(user, template)
    unknown = (
        set(changes) - set(TEMPLATE_LIMITS) - {"lxc_unprivileged", "disk_mb", "recovery_policy"}
    )
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))} of a template")
    if "lxc_unprivileged" in changes:
        changes["lxc_unprivileged"] = yes_no(changes["lxc_unprivileged"])
        check_privileged(user, changes["lxc_unprivileged"])
    for field, (least, most) in TEMPLATE_LIMITS.items():
        if field not in changes:
            continue
        value = changes[field]
        if value is None and field in ("cpu_quota", "pids_max", "swap_mb"):
            continue
        if value is None or not least <= value <= most:
            raise ValidationError({field: f"{field} must be between {least} and {most}"})
    if changes.get("disk_mb") is not None:
        check_disk(changes["disk_mb"], template.image)
    if "recovery_policy" in changes and changes["recovery_policy"] not in RecoveryPolicy.values:
        raise ValidationError(
            {"recovery_policy": f"RECOVERY is one of {', '.join(RecoveryPolicy.values)}"}
        )
    for field, value in changes.items():
        setattr(template, field, value)
    template.save(update_fields=list(changes))
    return template


ACTIONS = {
    # action: (states it may start from, state while it runs)
    "poweroff": ({VMState.RUNNING}, None),
    "resume": ({VMState.POWEROFF, VMState.UNKNOWN}, None),
    "reboot": ({VMState.RUNNING}, None),
    "terminate": (
        {
            VMState.RUNNING,
            VMState.POWEROFF,
            VMState.UNKNOWN,
            VMState.FAILURE,
            VMState.PENDING,
            VMState.PROLOG,
            VMState.BOOT,
        },
        None,
    ),
}


def act(user, vm: VM, action: str) -> VM:
    check_change(user, vm)
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    allowed, _ = ACTIONS[action]
    with transaction.atomic():
        if action == "resume":  # the quota's locks first, in every reservation's order
            quotas.lock_ids(*VM.objects.values_list("owner_id", "group_id").get(pk=vm.pk))
        # Under the VM's row lock, which a resize (vms/resize.py) holds while the host applies
        # it: the action waits for the resize, and a later resize sees the action's job.
        state = VM.objects.select_for_update().filter(pk=vm.pk).values_list("state", flat=True)
        vm.state = state.get()
        if vm.state not in allowed:
            raise ValidationError(f"VM {vm.name} is {vm.state}; cannot {action} it")
        if action == "resume" and vm.state == VMState.POWEROFF:
            quotas.reserve(vm.owner, vm.group, {"running_vms": 1}, what="this VM's resume")
        vm_log(vm, f"{action} requested by {user}")
        start_job(vm, action)
    return vm


def release(vm: VM, why: str, place_waiting: bool = True) -> None:
    """The end of a VM: its port blocks and addresses go back to the pool, it becomes DONE.
    The room it leaves goes to the cluster's waiting VMs (unless `place_waiting` is off)."""
    with transaction.atomic():
        for nic in vm.nics.all():
            ports.release(nic)
            addresses.release(nic)
        # Its snapshots lived in its directory on the host, destroyed with it.
        VMSnapshot.objects.filter(vm=vm).delete()
        try:
            transition(
                vm, VMState.DONE, set(VMState) - {VMState.DONE}, source=EventSource.JOB, reason=why
            )
        except InvalidTransition:
            pass  # ended already: its ports and addresses are free either way
    vm_log(vm, why)
    if place_waiting and vm.host_id:
        placement.place_pending_safely(vm.host.provision)


def in_cluster(provision: Provision):
    """The cluster's VMs that have not ended: on its hosts, or waiting for one (a VM's
    cluster is then its networks')."""
    return (
        VM.objects.filter(
            Q(host__provision=provision) | Q(host=None, nics__network__provision=provision)
        )
        .exclude(state=VMState.DONE)
        .distinct()
    )


def end_with_cluster(provision: Provision, log) -> int:
    """Before a cluster's droplets are deleted, its VMs end: containers destroyed where the host
    still answers (one SSH session per host; best effort, the droplet goes next anyway), ports
    and addresses released, VMs DONE. Returns how many VMs ended."""
    alive = list(in_cluster(provision).select_related("host__provision"))
    by_host = {}
    for vm in alive:
        if vm.host is not None:  # a VM still waiting for a host has no container
            by_host.setdefault(vm.host, []).append(vm)

    def destroy(host) -> None:
        try:
            lxc.destroy_on_host(host, by_host[host], log=log)
        except lxc.LXCError as exc:
            log(f"{host.name}: containers not destroyed ({exc}); they go with the droplet")

    # In parallel: an unreachable host costs one connect timeout, not one each.
    in_parallel(
        destroy,
        [h for h in by_host if h.public_ip and h.state in (HostState.RUNNING, HostState.ERROR)],
    )
    for vm in alive:
        release(vm, f"terminated with its cluster {provision.name}", place_waiting=False)
    return len(alive)


def port_forwards(vm: VM) -> list[dict]:
    """What `onevm port-forward` prints: one entry per public NIC."""
    result = []
    for block in PortBlock.objects.filter(nic__vm=vm).select_related("nic__network", "host"):
        result.append(
            {
                "nic": block.nic.index,
                # A NIC outlives a deleted network (SET_NULL) until its VM goes.
                "network": block.nic.network.name if block.nic.network else "",
                "host_ip": block.host.public_ip,
                "external_port_range": block.external_range,
                "internal_port_range": block.internal_range,
                "first_port": block.first_port,
            }
        )
    return result


def forwarded(vm: VM, internal: int) -> str:
    entries = port_forwards(vm)
    if not entries:
        raise ValidationError(f"VM {vm.name} has no NIC on a public network")
    entry = entries[0]
    block = PortBlock(block=(entry["first_port"] - 9001) // 100)
    try:
        external = block.external_port(int(internal))
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return f"{entry['host_ip']}@{external} -> {internal}"


__all__ = [
    "VM_ACTIVE",
    "act",
    "enqueue_job",
    "instantiate",
    "port_forwards",
    "start_job",
    "update_template",
    "vm_log",
]
