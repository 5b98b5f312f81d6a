"""VMs brought back from a lost host, once it was fenced (provisions/runs/fence.py calls
`host_fenced`), by each VM's recovery policy (VM.recovery(): its own, else its template's):

- restore: its latest complete backup, onto another host of its cluster with room;
- recreate: a fresh container from its image (what it wrote is lost, and its log says so);
- none: it stays UNKNOWN, for its owner or an operator (`onevm recover`).

A recovered VM keeps its ID, name, private addresses and its cluster's security groups; it
leaves the lost host's port block and gets a new one where it lands (`onevm port-forward`
shows it). It goes PENDING without a host and placement puts it where there is room (a VM that
fits nowhere waits, saying why, until a host joins: a Repair's replacement or `oneprovision
host add`). Its deploy fetches the backup first (backups/runs.py, restored_disk).

`onevm recover` (operators) does the same by hand, plus OpenNebula's --delete, --success,
--failure and --retry.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from backups.choices import BackupState
from backups.models import PendingRestore, VMBackup
from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from jobs.states import JOB_LIVE, JobState
from provisions.choices import HostProblem, HostState
from vms import placement, ports
from vms.choices import RecoveryPolicy, VMState
from vms.jobstart import start_job, vm_log
from vms.models import VM, VMJob
from vms.services import release

OPERATIONS = ("recreate", "restore", "delete", "success", "failure", "retry")
# The states a VM of a lost host may be in when it is recovered.
RECOVERABLE = {
    VMState.UNKNOWN,
    VMState.RUNNING,
    VMState.POWEROFF,
    VMState.FAILURE,
    VMState.PENDING,
    VMState.PROLOG,
    VMState.BOOT,
}


def recover_vms_of(provision, host, log) -> int:
    """provisions.hooks.host_fenced: each VM of the fenced host by its policy; how many
    recoveries started."""
    started = 0
    vms = VM.objects.filter(host=host).exclude(state=VMState.DONE).select_related("template")
    for vm in vms.order_by("id"):
        policy = vm.recovery()
        try:
            if recover(vm, policy, reason=f"its host {host.name} was lost and fenced"):
                started += 1
                log(f"VM {vm.name}: recovery by {policy} started")
            else:
                log(f"VM {vm.name}: not recovered (policy {policy})")
        except ValidationError as exc:
            message = " ".join(exc.messages)
            vm_log(vm, f"not recovered: {message}", "warning")
            log(f"VM {vm.name}: not recovered: {message}")
    return started


def recover(vm: VM, method: str, reason: str, actor=None) -> bool:
    """Recover `vm` away from its lost host by `method`; False when it stays (none, or restore
    with no backup to restore from: said in its log)."""
    source = EventSource.USER if actor is not None else EventSource.JOB
    if method == RecoveryPolicy.NONE:
        vm_log(vm, f"{reason}; recovery policy none: it stays {vm.state} (onevm recover)")
        return False
    backup = None
    if method == RecoveryPolicy.RESTORE:
        backup = latest_backup(vm)
        if backup is None:
            vm_log(
                vm,
                f"{reason}; it has no complete backup to restore from: it stays {vm.state} "
                "(onevm recover --recreate starts it from its image, its data lost)",
                "warning",
            )
            return False
    provision = vm.host.provision if vm.host_id else placement.cluster_of(vm)
    with transaction.atomic():
        locked = VM.objects.select_for_update(of=("self",)).get(pk=vm.pk)
        if locked.state not in RECOVERABLE:
            raise ValidationError(f"VM {vm.name} is {locked.state}: nothing to recover")
        lost = locked.host.name if locked.host_id else "no host"
        for nic in locked.nics.all():
            ports.release(nic)  # the lost host's block; placement gives one where it lands
        locked.nics.filter(network__kind="public").update(ip=None)
        VM.objects.filter(pk=vm.pk).update(
            host=None,
            placement_reason="",
            failure_reason="",
            **({"disk_mb": backup.disk_mb} if backup and backup.disk_mb else {}),
        )
        PendingRestore.objects.filter(vm=vm).delete()
        if backup is not None:
            PendingRestore.objects.create(vm=vm, backup=backup)
        how = (
            f"restore from backup {backup.pk} ({backup.short_id}, "
            f"{backup.created_at:%Y-%m-%d %H:%M})"
            if backup is not None
            else "recreate from its image: what it wrote on the lost host is lost"
        )
        try:
            transition(
                locked,
                VMState.PENDING,
                set(VMState) - {VMState.DONE},
                source=source,
                actor=actor,
                reason=f"{reason}; recovering by {how}",
            )
        except InvalidTransition:
            raise ValidationError(f"VM {vm.name} changed meanwhile: try again") from None
        vm_log(vm, f"{reason}: leaves {lost}; recovering by {how}", "warning")
    placement.place_pending_safely(provision)
    return True


def latest_backup(vm: VM) -> VMBackup | None:
    return vm.backups.filter(state=BackupState.READY).order_by("-id").first()


def operate(user, vm: VM, operation: str) -> VM:
    """`onevm recover NAME --OPERATION` (operators): recreate or restore now, delete, say it
    succeeded or failed, or retry its last failed job."""
    if not user.is_staff:
        raise PermissionDenied("onevm recover is for operators")
    if not VM.objects.for_user(user).filter(pk=vm.pk).exists():
        raise Http404("VM not found")
    if operation not in OPERATIONS:
        raise ValidationError(
            f"unknown operation {operation!r}: use one of {', '.join(OPERATIONS)}"
        )
    vm = VM.objects.select_related("host__provision", "template").get(pk=vm.pk)
    if vm.state == VMState.DONE:
        raise ValidationError(f"VM {vm.name} is DONE: nothing to recover")
    if vm.jobs.filter(state__in=JOB_LIVE).exists() and operation != "failure":
        raise ValidationError(f"VM {vm.name} has a job running: wait for it, or --failure")
    why = f"onevm recover --{operation} by {user}"
    if operation in ("recreate", "restore"):
        _check_host_lost(vm)
        if not recover(vm, operation, reason=why, actor=user):
            raise ValidationError(f"VM {vm.name} has no complete backup to restore from")
    elif operation == "delete":
        # Its host is lost: nothing to destroy there; what it held in the portal goes.
        release(vm, f"{why}: ended without touching its host")
    elif operation in ("success", "failure"):
        to = VMState.RUNNING if operation == "success" else VMState.FAILURE
        if operation == "failure":
            VMJob.objects.filter(vm=vm, state__in=JOB_LIVE).update(state=JobState.FAILED, error=why)
        transition(vm, to, set(VMState) - {VMState.DONE}, source=EventSource.USER, actor=user,
                   reason=why)  # fmt: skip
        vm_log(vm, f"{why}: {to}")
    else:
        last = vm.jobs.filter(state=JobState.FAILED).order_by("-id").first()
        if last is None:
            raise ValidationError(f"VM {vm.name} has no failed job to retry")
        start_job(vm, last.action, **last.params)
        vm_log(vm, f"{why}: {last.action} started again")
    vm.refresh_from_db()
    return vm


def _check_host_lost(vm: VM) -> None:
    """A VM is recovered elsewhere only when its host cannot run it any more (fenced, its
    droplet gone) or it has none: never while it might still be running there."""
    host = vm.host
    if host is None:
        return
    if host.state == HostState.REMOVED or host.problem in (
        HostProblem.FENCED,
        HostProblem.DROPLET_GONE,
    ):
        return
    raise ValidationError(
        f"VM {vm.name}'s host {host.name} is {host.state}"
        f"{f' ({host.problem})' if host.problem else ''} and not fenced: it might still run "
        "there. Fence the host first (oneprovision host fence), so that it cannot run twice"
    )
