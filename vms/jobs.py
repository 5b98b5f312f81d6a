"""django-q2 entry point for VM work: deploy (PENDING -> PROLOG -> BOOT -> RUNNING), actions,
and restart after the VM's host was set up again (vms/recovery.py).

Every job the portal enqueues is a VMJob row run under a lease (jobs.leases): claimed
with a conditional UPDATE, renewed by a heartbeat, taken over by another worker's sweep when
this worker dies. Its host scripts are idempotent, so a deploy taken over half-way converges.
"""

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

from core import metrics, sshkeys
from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from jobs import leases
from jobs.states import JobState
from vms import jobhooks, lxc, snapshots
from vms.choices import VMState
from vms.models import VM, PortBlock, VMJob
from vms.services import release, vm_log

log = logging.getLogger(__name__)


class _NoLease:
    """Stands in for the heartbeat when a job is run directly (no VMJob, no lease)."""

    def check(self) -> None:
        pass


def run_vm_job(vm_id: int, action: str, job_id: int | None = None) -> str:
    """Run `action` on the VM. With `job_id` (every job the portal enqueues) under the job's
    lease; a job another worker holds or has finished is left alone."""
    if job_id is None:
        return _run(vm_id, action, _NoLease(), None)
    owner = leases.new_owner()
    job = leases.claim(job_id, owner, VMJob.objects.all())
    if job is None:
        return "not claimed (already running or finished)"
    with leases.Heartbeat(job, owner) as heartbeat:
        try:
            outcome = _run(vm_id, action, heartbeat, job)
        except leases.LeaseLost as exc:
            log.warning("%s; stopping", exc)
            return "lease lost"
        except Exception as exc:
            _end(job, owner, JobState.FAILED, str(exc) or exc.__class__.__name__)
            raise
    _end(job, owner, JobState.FAILED if outcome == "failed" else JobState.SUCCESS)
    return outcome


def _end(job: VMJob, owner: str, state: str, error: str = "") -> None:
    if leases.ended(job, owner, state=state, error=error):
        seconds = (timezone.now() - job.started_at).total_seconds()
        metrics.observe_job_duration("vm", job.action, state, seconds)


def _run(vm_id: int, action: str, lease, job: VMJob | None) -> str:
    vm = VM.objects.select_related("host__provision", "image", "template").get(pk=vm_id)
    if action in snapshots.ACTIONS:
        return _snapshot(vm, job, lease)
    if action in jobhooks.actions:
        return jobhooks.actions.get(action)(vm, job, lease, log=lambda line: vm_log(vm, line))
    try:
        if action == "deploy":
            return _deploy(vm, lease)
        if action == "terminate":
            return _terminate(vm)
        if action == "restart":
            return _restart(vm)
        return _action(vm, action)
    except lxc.LXCError as exc:
        lease.check()  # a failure seen after losing the lease is not ours to record
        vm_log(vm, f"{action} failed: {exc}", "error")
        VM.objects.filter(pk=vm.pk).update(failure_reason=str(exc))
        _to(vm, VMState.FAILURE, set(VMState) - {VMState.DONE}, reason=f"{action}: {exc}")
        return "failed"


def _snapshot(vm: VM, job: VMJob, lease) -> str:
    """A snapshot job. Its failure leaves the VM's state to monitoring (a snapshot that was
    not taken does not make the VM fail), and no half-taken snapshot listed."""
    try:
        outcome = snapshots.run_job(vm, job, log=lambda line: vm_log(vm, line))
    except lxc.LXCError as exc:
        lease.check()
        vm_log(vm, f"{job.action} failed: {exc}", "error")
        snapshots.failed(job)
        return "failed"
    if job.action == "snapshot-revert":
        state = VMState.RUNNING if job.params.get("start") else VMState.POWEROFF
        _to(vm, state, set(VMState) - {VMState.DONE}, reason="reverted to a snapshot")
    return outcome


def _to(vm: VM, state: str, expected, reason: str = "") -> bool:
    """The job's own state change; False when the VM moved on meanwhile (it was terminated,
    which the job then leaves as it is)."""
    try:
        transition(vm, state, expected, source=EventSource.JOB, reason=reason)
    except InvalidTransition:
        return False
    return True


def context_ssh_key(vm: VM) -> str:
    """The key the template's context asks for: `true` means the VM owner's key (OpenNebula's
    $USER[SSH_PUBLIC_KEY]); a literal key is checked like one typed on the SSH key page."""
    wanted = (vm.template.context or {}).get("ssh_public_key") if vm.template else None
    if wanted is True:
        return sshkeys.public_key_of(vm.owner)
    if isinstance(wanted, str) and wanted.strip():
        try:
            return sshkeys.check_public_key(wanted)
        except ValidationError as exc:
            vm_log(vm, f"template's ssh_public_key ignored: {' '.join(exc.messages)}", "warning")
    return ""


def _deploy(vm: VM, lease) -> str:
    # Under a lease, a deploy found in PROLOG or BOOT is this job's own, cut short with a dead
    # worker: it goes on (the script checks before each step). Without one, only PENDING.
    resumable = {VMState.PROLOG, VMState.BOOT} if isinstance(lease, leases.Heartbeat) else set()
    if vm.state in resumable:
        vm_log(vm, f"deploy resumed from {vm.state} (its worker was lost)", "warning")
    if not _to(vm, VMState.PROLOG, {VMState.PENDING, *resumable}):
        return f"not deployed: VM is {vm.state}"
    vm_log(vm, f"PROLOG: fetching image {vm.image.name} (sha256 {vm.image.sha256[:12]}…)")
    _to(vm, VMState.BOOT, {VMState.PROLOG})
    lease.check()
    deploy_on_host(vm)
    lease.check()
    _to(vm, VMState.RUNNING, {VMState.BOOT})
    jobhooks.deployed(vm)
    vm_log(vm, "RUNNING")
    return "running"


def deploy_on_host(vm: VM, existing_only=False) -> bool:
    """Run the deploy script for `vm` on its host. It checks before each step, so on a host
    that has the container it only puts back what is missing (its forwards, its start).
    With `existing_only` it never creates the container: False when it is not there."""
    nics = list(vm.nics.select_related("network").order_by("index"))
    block = PortBlock.objects.filter(nic__vm=vm).first()
    # A disk made ready on the host for this VM (a restored backup) before its container is
    # created; none for a container that is there already.
    logged = lambda line: vm_log(vm, line)  # noqa: E731
    restored = "" if existing_only else next(filter(None, jobhooks.disk_source(vm, logged)), "")
    return lxc.deploy(
        vm,
        nics,
        block.first_port if block else None,
        ssh_key=context_ssh_key(vm),
        log=logged,
        existing_only=existing_only,
        restored=restored,
    )


def _restart(vm: VM) -> str:
    """Start a VM again on its host after the host was set up again (vms/recovery.py)."""
    if vm.state not in {VMState.RUNNING, VMState.UNKNOWN}:
        return f"not restarted: VM is {vm.state}"
    if not deploy_on_host(vm, existing_only=True):
        # The droplet was replaced, not rebooted: its disk went with it. A fresh container
        # from the image would pass for the VM with its data silently gone.
        why = (
            f"its container is not on {vm.host.name} (the droplet was replaced and its disk "
            "lost): terminate the VM or restore it from a backup"
        )
        if vm.state == VMState.RUNNING:
            _to(vm, VMState.UNKNOWN, {VMState.RUNNING}, reason=why)
        vm_log(vm, f"not restarted: {why}")
        return "not restarted: container gone"
    _to(vm, VMState.RUNNING, {VMState.UNKNOWN}, reason="started again on its host")
    vm_log(vm, f"started again on {vm.host.name} after it was set up again")
    return "running"


def _action(vm: VM, action: str) -> str:
    name = {"poweroff": "stop", "resume": "start", "reboot": "reboot"}[action]
    lxc.action(vm, name, log=lambda line: vm_log(vm, line))
    state = VMState.POWEROFF if action == "poweroff" else VMState.RUNNING
    _to(vm, state, set(VMState) - {VMState.DONE}, reason=action)
    vm_log(vm, f"{action}: {state}")
    return state


def _terminate(vm: VM) -> str:
    if vm.host_id:
        lxc.action(vm, "destroy", log=lambda line: vm_log(vm, line))
    release(vm, "terminated: container destroyed, ports and addresses released")
    return "done"
