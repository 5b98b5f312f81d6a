"""VM snapshots (OpenNebula's system snapshots: snapshot-create, -list, -revert, -delete): a
copy of the VM's disk kept on its host, taken crash-consistent by its job (the container and
its filesystem frozen for the copy; vms/hostscripts/vm-snapshot.sh) and reverted to with the VM
stopped, its disk replaced and the VM started again.

Space: a VM's snapshots together may take at most as much as its disk (its size), and a VM
has at most settings.VM_SNAPSHOTS_MAX of them; a new one is refused when the disk's current
use (monitoring's last reading, or its whole size when there is none) would not fit.
Snapshots end with their VM (vms.services.release): its directory on the host holds them.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core import quotas
from core.lookup import find
from core.names import check_name
from vms import lxc
from vms.choices import VMState
from vms.disks import locked_for_disk_work
from vms.models import VM, VMJob, VMLogLine, VMSnapshot
from vms.services import start_job

ACTIONS = ("snapshot-create", "snapshot-revert", "snapshot-delete")


def _changeable(user, vm: VM) -> VM:
    return locked_for_disk_work(
        user, vm, needs="snapshots need it RUNNING or POWEROFF", without_disk=": no snapshots"
    )


def snapshot_of(vm: VM, ref, states=(VMSnapshot.State.READY,)) -> VMSnapshot:
    return find(vm.snapshots.filter(state__in=states), ref, "snapshot")


def _start(vm: VM, action: str, snapshot: VMSnapshot, **params) -> VMJob:
    return start_job(vm, action, snapshot=snapshot.pk, **params)


def create(user, vm: VM, name: str | None = None) -> VMSnapshot:
    """Take a snapshot of the VM's disk now (its job does the copy)."""
    with transaction.atomic():
        vm = _changeable(user, vm)
        name = check_name(name, kind="snapshot name") if name else _next_name(vm)
        taken = vm.snapshots.exclude(state=VMSnapshot.State.DELETING)
        if taken.count() >= settings.VM_SNAPSHOTS_MAX:
            raise ValidationError(
                f"VM {vm.name} has {settings.VM_SNAPSHOTS_MAX} snapshots, the most it may "
                "have: delete one first"
            )
        used_mb = (taken.aggregate(n=Sum("size_bytes"))["n"] or 0) / 2**20
        needed_mb = _disk_use_mb(vm)
        if used_mb + needed_mb > vm.disk_mb:
            raise ValidationError(
                f"VM {vm.name}'s snapshots take {used_mb:.0f} MB and this one needs about "
                f"{needed_mb:.0f} MB: together more than its disk ({vm.disk_mb} MB), which is "
                "what its snapshots may take. Delete a snapshot first"
            )
        quotas.reserve(vm.owner, vm.group, {"snapshot_mb": round(needed_mb)}, what="this snapshot")
        try:
            with transaction.atomic():
                snapshot = VMSnapshot.objects.create(vm=vm, name=name, disk_mb=vm.disk_mb)
        except IntegrityError:
            raise ValidationError(
                {"name": f"VM {vm.name} already has a snapshot named {name!r}"}
            ) from None
        VMLogLine.objects.create(vm=vm, message=f"snapshot {name} requested by {user}")
        _start(vm, "snapshot-create", snapshot)
    return snapshot


def _next_name(vm: VM) -> str:
    return f"snap-{timezone.now():%Y%m%d-%H%M%S}"


def _disk_use_mb(vm: VM) -> float:
    """What the snapshot will roughly take: the disk's current use, as monitoring last read
    it; the disk's whole size when it never did."""
    latest = vm.samples.exclude(disk_used_mb=None).order_by("-at").first()
    return latest.disk_used_mb if latest is not None else float(vm.disk_mb)


def revert(user, vm: VM, ref) -> VMSnapshot:
    """Stop the VM, put the snapshot's disk in place of its own and start it again (a VM that
    was powered off stays off). What it wrote since the snapshot is lost."""
    with transaction.atomic():
        vm = _changeable(user, vm)
        snapshot = snapshot_of(vm, ref)
        VMLogLine.objects.create(vm=vm, message=f"revert to snapshot {snapshot.name} by {user}")
        _start(vm, "snapshot-revert", snapshot, start=vm.state == VMState.RUNNING)
    return snapshot


def delete(user, vm: VM, ref) -> VMSnapshot:
    with transaction.atomic():
        vm = _changeable(user, vm)
        snapshot = snapshot_of(vm, ref)
        VMSnapshot.objects.filter(pk=snapshot.pk).update(state=VMSnapshot.State.DELETING)
        VMLogLine.objects.create(vm=vm, message=f"snapshot {snapshot.name} deletion by {user}")
        _start(vm, "snapshot-delete", snapshot)
    return snapshot


def failed(job: VMJob) -> None:
    """A snapshot job that failed: a snapshot being taken is not kept (its file, if any, goes
    with the next run or the VM), one being deleted is listed again."""
    snapshot = job.params.get("snapshot")
    if job.action == "snapshot-create":
        VMSnapshot.objects.filter(pk=snapshot, state=VMSnapshot.State.CREATING).delete()
    elif job.action == "snapshot-delete":
        VMSnapshot.objects.filter(pk=snapshot).update(state=VMSnapshot.State.READY)


def run_job(vm: VM, job: VMJob, log) -> str:
    """The host side of a snapshot job; its outcome for the job's record."""
    snapshot = VMSnapshot.objects.filter(pk=job.params.get("snapshot"), vm=vm).first()
    if snapshot is None:
        return "nothing to do: the snapshot is gone"
    action = job.action.removeprefix("snapshot-")
    env = {"VM": vm.container_name, "ACTION": action, "SNAP": snapshot.pk}
    if action == "revert":
        env["START"] = 1 if job.params.get("start") else 0
    stdout = lxc.run_checked(vm.host, "vm-snapshot.sh", env, log)
    if action == "create":
        values = dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)
        freeze_ms = int(values["FROZEN"]) if values.get("FROZEN", "").isdigit() else None
        VMSnapshot.objects.filter(pk=snapshot.pk).update(
            state=VMSnapshot.State.READY, size_bytes=int(values["SIZE"]), freeze_ms=freeze_ms
        )
        frozen = f", the VM frozen {freeze_ms} ms" if freeze_ms is not None else ""
        log(f"snapshot {snapshot.name} taken: {int(values['SIZE']) / 2**20:.1f} MB{frozen}")
        return "snapshot taken"
    if action == "revert":
        VM.objects.filter(pk=vm.pk).update(disk_mb=snapshot.disk_mb)
        log(f"reverted to snapshot {snapshot.name} (taken {snapshot.created_at:%Y-%m-%d %H:%M})")
        return "reverted"
    snapshot.delete()
    log(f"snapshot {snapshot.name} deleted")
    return "snapshot deleted"
