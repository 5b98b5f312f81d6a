"""A VM's disk: its size checked against the host's room, and grown online.

The disk is an ext4 filesystem in a sparse file on the host (vms/hostscripts/rootfs.sh); it
only grows: ext4 cannot shrink while mounted, and a VM's data may lie anywhere in it.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from core import quotas
from core.tenancy import check_change
from jobs.states import JOB_LIVE
from vms import capacity, lxc
from vms.choices import DISK_MB_MAX, VMState
from vms.models import VM, VMLogLine

log = logging.getLogger(__name__)

DISK_WORK_STATES = {VMState.RUNNING, VMState.POWEROFF}


def locked_for_disk_work(user, vm: VM, needs: str, without_disk: str = "") -> VM:
    """The VM under a row lock (call inside a transaction), for a change of its disk: a growth
    or a snapshot. Http404 for anyone who may not change it; refused while it is not RUNNING
    or POWEROFF (`needs` says for what), while a job works on it, or when it has no disk of
    its own (`without_disk` ends that message)."""
    check_change(user, vm)
    # The quota's locks before the VM's, in the order every reservation takes them.
    quotas.lock_ids(*VM.objects.values_list("owner_id", "group_id").get(pk=vm.pk))
    # of=self: PostgreSQL locks no row of a nullable join (the host).
    vm = VM.objects.select_for_update(of=("self",)).select_related("host__provision").get(pk=vm.pk)
    if vm.state not in DISK_WORK_STATES:
        raise ValidationError(f"VM {vm.name} is {vm.state}: {needs}")
    if vm.jobs.filter(state__in=JOB_LIVE).exists():
        raise ValidationError(f"VM {vm.name} has a job running: try again once it ends")
    if vm.disk_mb is None:
        raise ValidationError(
            f"VM {vm.name} has no disk of its own (deployed before VMs had one){without_disk}"
        )
    return vm


def grow(user, vm: VM, size_mb: int) -> VM:
    """Grow the VM's disk to `size_mb`, online when it runs (`df` inside shows it at once).
    Refused, changing nothing: a smaller or equal size, a VM without a disk of its own, one
    not RUNNING or POWEROFF, one a job is working on, a size beyond the largest allowed."""
    with transaction.atomic():
        vm = locked_for_disk_work(
            user, vm, needs="a disk grows while the VM is RUNNING or POWEROFF"
        )
        if size_mb <= vm.disk_mb:
            raise ValidationError(
                {
                    "size_mb": f"VM {vm.name}'s disk is {vm.disk_mb} MB: give a larger size "
                    f"(a disk only grows: ext4 cannot shrink while mounted, and the VM's data "
                    f"may lie anywhere in it)"
                }
            )
        if size_mb > DISK_MB_MAX:
            raise ValidationError({"size_mb": f"a disk is at most {DISK_MB_MAX} MB"})
        quotas.reserve(
            vm.owner, vm.group, {"disk_mb": size_mb - vm.disk_mb}, what="the larger disk"
        )
        free = capacity.free(vm.host)["disk"]
        if size_mb - vm.disk_mb > free:
            raise ValidationError(
                {
                    "size_mb": f"host {vm.host.name} has {max(free, 0):f} MiB left for VMs' "
                    f"disks; growing to {size_mb} MB asks {size_mb - vm.disk_mb} more"
                }
            )
        result = lxc.run_script(
            vm.host, "vm-disk.sh", {"VM": vm.container_name, "SIZE_MB": int(size_mb)}
        )
        if result.exit_status != 0:
            reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
            raise ValidationError(
                f"{vm.host.name} did not grow VM {vm.name}'s disk: {reason.removeprefix('ERROR ')}"
            )
        old = vm.disk_mb
        VM.objects.filter(pk=vm.pk).update(disk_mb=size_mb)
        vm.disk_mb = size_mb
        detail = next((line for line in result.stdout.splitlines() if line.startswith("DISK")), "")
        VMLogLine.objects.create(
            vm=vm, message=f"disk grown {old} -> {size_mb} MB by {user} ({detail})"
        )
    return vm
