"""A host's capacity and what its VMs reserve, one dimension per entry of DIMENSIONS.

A dimension names the VM's field that reserves it (the template's field of the same name sizes
a new VM) and how much of it a host has: CPU is the host's CPUs times VM_CPU_OVERCOMMIT (a
container's CPU is a weight and an optional quota, so CPUs are shared); memory is the host's
memory less what host-setup.sh keeps for the host itself (provisions.hostconfig
.kept_for_host_mb), which is exactly the containers' parent cgroup's memory.max; disk is the
host's filesystem (as host set-up reports it) less HOST_RESERVED_DISK_MB, and each VM reserves
its disk's size (disks are sparse files: what they hold is less, and monitoring shows it;
snapshots come out of the host's reserve and their VM's allowance). Every VM on
the host that has not ended (DONE) reserves its size, running or not: a powered-off VM may be
resumed at any time.

Placement (vms/placement.py), the hosts tables of pages, API and CLI (through the
provisions.hooks.host_capacity hook) and anything that must check a host's room (`free`) read
it here, in one aggregate query for any number of hosts.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum

from provisions.hostconfig import kept_for_host_mb
from provisions.models import Host
from vms.choices import VMState
from vms.models import VM


def _cpu_total(host: Host) -> Decimal:
    return Decimal(str(host.cpu or 0)) * Decimal(str(settings.VM_CPU_OVERCOMMIT))


def _memory_total(host: Host) -> Decimal:
    total = host.memory_mb or 0
    return Decimal(total - kept_for_host_mb(total) if total else 0)


def _disk_total(host: Host) -> Decimal:
    """The host's filesystem less HOST_RESERVED_DISK_MB. A host configured before it reported
    its disk has no bound here until its next configuration (Repair, configure)."""
    if host.disk_mb is None:
        return UNKNOWN
    return Decimal(max(host.disk_mb - settings.HOST_RESERVED_DISK_MB, 0))


UNKNOWN = Decimal("Infinity")  # a total not known: nothing is refused for it


@dataclass(frozen=True)
class Dimension:
    name: str  # as the API and the CLI call it
    unit: str
    field: str  # the VM's (and the template's) field that reserves it
    total: Callable[[Host], Decimal]
    noun: str = ""  # after the amount in messages ("256 MiB memory"); "" when the unit says it

    def show(self, value, noun: bool = True) -> str:
        if Decimal(value).is_infinite():
            return "unknown" + (f" {self.noun}" if self.noun and noun else "")
        value = Decimal(value).normalize()
        return f"{value:f} {self.unit}" + (f" {self.noun}" if self.noun and noun else "")


DIMENSIONS = (
    Dimension("cpu", "CPU", "cpu", _cpu_total),
    Dimension("memory", "MiB", "memory_mb", _memory_total, noun="memory"),
    Dimension("disk", "MiB", "disk_mb", _disk_total, noun="disk"),
)


def demand_of(sized) -> dict[str, Decimal]:
    """What a VM or a template asks for, per dimension."""
    return {d.name: Decimal(str(getattr(sized, d.field) or 0)) for d in DIMENSIONS}


@dataclass
class Room:
    """One host's capacity, what its VMs reserve and how many VMs it has."""

    host: Host
    total: dict[str, Decimal]
    reserved: dict[str, Decimal] = field(default_factory=dict)
    vms: int = 0

    def free(self, name: str) -> Decimal:
        return self.total[name] - self.reserved.get(name, Decimal(0))

    def fits(self, demand: dict[str, Decimal]) -> bool:
        return all(self.free(name) >= amount for name, amount in demand.items())

    def take(self, demand: dict[str, Decimal]) -> None:
        """Count a VM just placed here, so the next choice of the same round sees it."""
        for name, amount in demand.items():
            self.reserved[name] = self.reserved.get(name, Decimal(0)) + amount
        self.vms += 1

    def rows(self) -> list[dict]:
        """The API's form: one entry per dimension."""
        return [
            {
                "dimension": d.name,
                "unit": d.unit,
                "total": _number(self.total[d.name]),
                "reserved": _number(self.reserved.get(d.name, 0)),
                "free": _number(self.free(d.name)),
            }
            for d in DIMENSIONS
        ]


def _number(value) -> float | int | None:
    value = Decimal(value)
    if value.is_infinite():
        return None  # not known yet
    return int(value) if value == value.to_integral_value() else float(round(value, 2))


def rooms(hosts, exclude_vm=None) -> dict[int, Room]:
    """Each host's Room, by host id, in one query. `exclude_vm` (a VM or its id) is left out
    of what is reserved: a VM being resized asks for room beside its own current size."""
    hosts = list(hosts)
    found = {h.pk: Room(h, {d.name: d.total(h) for d in DIMENSIONS}) for h in hosts}
    if not hosts:
        return found
    alive = VM.objects.filter(host__in=[h.pk for h in hosts]).exclude(state=VMState.DONE)
    if exclude_vm is not None:
        alive = alive.exclude(pk=getattr(exclude_vm, "pk", exclude_vm))
    sums = {d.name: Sum(d.field) for d in DIMENSIONS}
    for row in alive.order_by().values("host").annotate(vm_total=Count("pk"), **sums):
        room = found[row["host"]]
        room.vms = row["vm_total"]
        room.reserved = {d.name: Decimal(str(row[d.name] or 0)) for d in DIMENSIONS}
    return found


def free(host: Host, exclude_vm=None) -> dict[str, Decimal]:
    """What is free on `host` per dimension ({"cpu": ..., "memory": ...}), `exclude_vm`'s
    own reservation counted as free. One query."""
    room = rooms([host], exclude_vm)[host.pk]
    return {d.name: room.free(d.name) for d in DIMENSIONS}


def host_capacity(hosts) -> dict[int, list[dict]]:
    """provisions.hooks.host_capacity: every host's dimensions for the hosts tables."""
    return {pk: room.rows() for pk, room in rooms(hosts).items()}


def shortfall(candidates: list[Room], demand: dict[str, Decimal]) -> str | None:
    """Why none of `candidates` fits `demand`, for the user ("no host with 2048 MiB memory
    free: largest free 1200 MiB on dc-host-1"); None when one fits."""
    if any(room.fits(demand) for room in candidates):
        return None
    for d in DIMENSIONS:
        best = max(candidates, key=lambda room, name=d.name: room.free(name))
        if best.free(d.name) < demand[d.name]:
            return (
                f"no host with {d.show(demand[d.name])} free: largest free "
                f"{d.show(max(best.free(d.name), 0), noun=False)} on {best.host.name}"
            )
    asked = " and ".join(d.show(demand[d.name]) for d in DIMENSIONS)
    has = "; ".join(
        f"{room.host.name}: " + ", ".join(d.show(max(room.free(d.name), 0)) for d in DIMENSIONS)
        for room in candidates
    )
    return f"no host with {asked} free at once ({has})"
