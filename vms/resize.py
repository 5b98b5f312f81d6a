"""Resize a VM's CPU and memory limits (OpenNebula's `onevm resize`) without restarting it.

A RUNNING VM gets its new cgroup limits live and in its container's config file; a POWEROFF
VM's config file only, applied when it starts. It runs in the caller's process over the
host's warm SSH connection, so the user gets the host's answer at once, under a row lock on
the VM (and on its owner and its host, in the order instantiation takes them), so that a
concurrent resize, instantiation or action waits for it; a VM with a job queued or running is
refused. The new values are saved only once the host applied them.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import quotas
from core.tenancy import check_change
from jobs.states import JOB_LIVE
from provisions.models import Host
from vms import capacity, lxc
from vms.choices import VMState
from vms.models import VM
from vms.services import TEMPLATE_LIMITS, vm_log

UNCHANGED = object()  # cpu_quota not given (None clears the quota)
# state: when the new limits take effect
RESIZABLE = {VMState.RUNNING: "live", VMState.POWEROFF: "at its next start"}


class HostFailed(Exception):
    """The host could not be reached or its script failed: nothing was saved."""


@dataclass(frozen=True)
class Room:
    cpu: Decimal
    memory_mb: int


def host_free(host: Host) -> Room:
    """What `host` has left for VMs (vms.capacity, as placement counts it); a VM's own
    reservation is part of what it uses."""
    free = capacity.free(host)
    return Room(cpu=free["cpu"], memory_mb=int(free["memory"]))


def _bounded(field: str, value):
    """`value` as the field's type, within TEMPLATE_LIMITS; a ValidationError naming it."""
    least, most = TEMPLATE_LIMITS[field]
    try:
        number = Decimal(str(value)) if isinstance(least, Decimal) else int(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: f"{field} must be a number, not {value!r}"}) from None
    if isinstance(number, Decimal) and number != number.quantize(Decimal("0.01")):
        raise ValidationError({field: f"{field} has at most two decimals"})
    if not least <= number <= most:
        raise ValidationError({field: f"{field} must be between {least} and {most}"})
    return number


def _memory_in_use(vm: VM) -> float | None:
    """MiB the VM used at monitoring's latest sample, if that is recent (two cycles)."""
    since = timezone.now() - timedelta(seconds=2 * settings.MONITOR_INTERVAL)
    # Monitoring's samples, read through their relation to the VM (vms imports no monitoring).
    samples = vm.samples.filter(at__gte=since).order_by("-at")
    return samples.values_list("memory_mb", flat=True).first()


def _check(vm: VM, cpu: Decimal, memory_mb: int) -> None:
    """The VM's state and jobs, its owner's quota, its host's room, its memory in use."""
    if vm.state not in RESIZABLE:
        raise ValidationError(
            f"VM {vm.name} is {vm.state}; only a RUNNING or POWEROFF VM can be resized"
        )
    job = vm.jobs.filter(state__in=JOB_LIVE).order_by("id").first()
    if job is not None:
        raise ValidationError(
            f"VM {vm.name} has a {job.action} job {job.state}; resize it once that job ends"
        )
    more_cpu, more_memory = cpu - vm.cpu, memory_mb - vm.memory_mb
    growth = {"cpu": more_cpu, "memory_mb": more_memory}
    quotas.reserve(
        vm.owner,
        vm.group,
        {name: more for name, more in growth.items() if more > 0},
        what="this resize",
    )
    room = host_free(vm.host)
    if more_cpu > room.cpu or more_memory > room.memory_mb:
        raise ValidationError(
            f"host {vm.host.name} has {max(room.memory_mb, 0)} MiB and {_cpus(max(room.cpu, 0))} "
            f"CPU free; the resize asks {max(more_memory, 0)} MiB and {_cpus(max(more_cpu, 0))} "
            "CPU more"
        )
    used = _memory_in_use(vm) if vm.state == VMState.RUNNING else None
    if used is not None and memory_mb < used:
        raise ValidationError(
            f"VM {vm.name} uses {used:.0f} MiB of memory now, more than the {memory_mb} MiB "
            "asked: free memory in the VM first"
        )


def _cpus(value) -> str:
    """1.50 as '1.5', 2.00 as '2', None as 'none'."""
    return "none" if value is None else format(Decimal(value).normalize(), "f")


def _change(vm: VM, cpu, memory_mb, cpu_quota) -> str:
    """The log's 'cpu 1 -> 2, memory 256 -> 512 MiB'."""
    parts = []
    if cpu != vm.cpu:
        parts.append(f"cpu {_cpus(vm.cpu)} -> {_cpus(cpu)}")
    if memory_mb != vm.memory_mb:
        parts.append(f"memory {vm.memory_mb} -> {memory_mb} MiB")
    if cpu_quota != vm.cpu_quota:
        parts.append(f"cpu quota {_cpus(vm.cpu_quota)} -> {_cpus(cpu_quota)}")
    return ", ".join(parts) or f"cpu {_cpus(cpu)}, memory {memory_mb} MiB applied again"


def resize(user, vm: VM, *, cpu=None, memory_mb=None, cpu_quota=UNCHANGED) -> VM:
    """Give `vm` `cpu` CPUs, `memory_mb` MiB and `cpu_quota` (None: no quota); what is not
    given stays. Raises Http404 for a VM the user may not see, ValidationError for a refusal
    (nothing changed), HostFailed when the host could not apply it (nothing saved)."""
    check_change(user, vm)
    if cpu is None and memory_mb is None and cpu_quota is UNCHANGED:
        raise ValidationError("nothing to resize: give cpu, memory_mb or cpu_quota")
    cpu = None if cpu is None else _bounded("cpu", cpu)
    memory_mb = None if memory_mb is None else _bounded("memory_mb", memory_mb)
    if cpu_quota is not UNCHANGED and cpu_quota is not None:
        cpu_quota = _bounded("cpu_quota", cpu_quota)
    failure = None
    with transaction.atomic():
        owner_id, group_id, host_id = VM.objects.values_list("owner_id", "group_id", "host_id").get(
            pk=vm.pk
        )
        # The quota's locks first, then the host's, as an instantiation takes them.
        quotas.lock_ids(owner_id, group_id)
        list(Host.objects.select_for_update().filter(pk=host_id).values("pk"))
        vm = (
            VM.objects.select_for_update(of=("self",))
            .select_related("host__provision", "template", "owner")
            .get(pk=vm.pk)
        )
        cpu = vm.cpu if cpu is None else cpu
        memory_mb = vm.memory_mb if memory_mb is None else memory_mb
        cpu_quota = vm.cpu_quota if cpu_quota is UNCHANGED else cpu_quota
        _check(vm, cpu, memory_mb)
        try:
            lxc.resize(vm, memory_mb, cpu, cpu_quota, log=lambda line: vm_log(vm, line))
        except lxc.ResizeRefused as exc:
            raise ValidationError(f"host {vm.host.name} refused: {exc}") from None
        except lxc.LXCError as exc:
            failure = exc
        else:
            vm_log(vm, f"resized ({RESIZABLE[vm.state]}): {_change(vm, cpu, memory_mb, cpu_quota)}")
            VM.objects.filter(pk=vm.pk).update(
                cpu=cpu, memory_mb=memory_mb, cpu_quota=cpu_quota, updated_at=timezone.now()
            )
    if failure is not None:
        vm_log(vm, f"resize failed, limits unchanged in the portal: {failure}", "error")
        raise HostFailed(f"resize of {vm.name} failed: {failure}")
    vm.refresh_from_db()
    return vm
