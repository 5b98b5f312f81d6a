"""The host side of backups, run as VM jobs (registered in vms.jobhooks by backups/hooks.py):
under the VMJob's lease, taken over by another worker when this one dies. vm-backup.sh tags
each snapshot with its job, so a job run again finds what its lost run uploaded instead of
uploading twice, and a backup is READY only once restic has written its snapshot.
"""

import json
import time

from django.utils import timezone

from backups import hostside
from backups.choices import BackupState
from backups.models import PendingRestore, VMBackup
from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from vms.choices import VMState
from vms.models import VM, VMJob


def run_backup(vm: VM, job: VMJob, lease, log) -> str:
    taken = VMBackup.objects.select_related("store").filter(pk=job.params.get("backup")).first()
    if taken is None or taken.state != BackupState.CREATING:
        return "nothing to do: the backup is gone or finished"
    started = time.monotonic()
    env = {
        "VM": vm.container_name,
        "ACTION": "backup",
        "TAG": f"job-{job.pk}",
        "MANIFEST": json.dumps(taken.manifest, sort_keys=True),
    }
    try:
        report = hostside.run(vm.host, taken.store, taken.repository_key, env, log)
    except hostside.BackupError as exc:
        lease.check()  # a failure seen after losing the lease is not ours to record
        VMBackup.objects.filter(pk=taken.pk).update(
            state=BackupState.FAILED, error=str(exc), finished_at=timezone.now()
        )
        log(f"backup {taken.pk} failed: {exc}")
        return "failed"
    lease.check()
    summary = json.loads(report.get("SUMMARY") or "{}")
    frozen = report.get("FROZEN", "")
    VMBackup.objects.filter(pk=taken.pk).update(
        state=BackupState.READY,
        snapshot_id=report["SNAPSHOT"].split()[0],
        disk_bytes=summary.get("total_bytes_processed"),
        uploaded_bytes=summary.get("data_added"),
        freeze_ms=int(frozen) if frozen.isdigit() else None,
        duration_s=round(time.monotonic() - started, 3),
        finished_at=timezone.now(),
    )
    taken.refresh_from_db()
    uploaded = f"{taken.uploaded_bytes / 2**20:.1f} MB new" if taken.uploaded_bytes else "taken"
    log(f"backup {taken.pk} ({taken.short_id}) READY: {uploaded}, the VM frozen {frozen} ms")
    if job.params.get("keep"):
        _retain(vm, taken, job.params["keep"], log)
    return "backed up"


def _retain(vm: VM, taken: VMBackup, keep: str, log) -> None:
    """A schedule's retention: restic forgets and prunes what the policy does not keep, and the
    portal forgets the same backups. A failure here leaves every backup listed (the next
    scheduled backup prunes again) and does not fail the backup just taken."""
    env = {"VM": vm.container_name, "ACTION": "forget", "KEEP": keep}
    try:
        report = hostside.run(vm.host, taken.store, taken.repository_key, env, log)
    except hostside.BackupError as exc:
        log(f"retention ({keep}) not applied: {exc}")
        return
    kept = {
        line.split()[1] for line in report["_lines"].splitlines() if line.startswith("SNAPSHOT ")
    }
    gone = VMBackup.objects.filter(
        store=taken.store, repository_key=taken.repository_key, state=BackupState.READY
    ).exclude(snapshot_id__in=kept)
    names = [b.short_id for b in gone]
    gone.delete()
    log(f"retention ({keep}): {len(kept)} backup(s) kept, {len(names)} pruned {names}")


def failed_backup(job: VMJob) -> None:
    """A backup job that failed on its own (not in its host script): its row is not READY."""
    VMBackup.objects.filter(pk=job.params.get("backup"), state=BackupState.CREATING).update(
        state=BackupState.FAILED, finished_at=timezone.now()
    )


def run_restore(vm: VM, job: VMJob, lease, log) -> str:
    """A restore in place: the VM's disk replaced by the backup's, verified, started again if
    it was running."""
    chosen = VMBackup.objects.select_related("store").filter(pk=job.params.get("backup")).first()
    if chosen is None:
        return "nothing to do: the backup is gone"
    start = bool(job.params.get("start"))
    env = {
        "VM": vm.container_name,
        "ACTION": "restore",
        "SNAPSHOT": chosen.snapshot_id,
        "MODE": "in-place",
        "START": 1 if start else 0,
    }
    try:
        hostside.run(vm.host, chosen.store, chosen.repository_key, env, log)
    except hostside.BackupError as exc:
        lease.check()
        log(f"restore of backup {chosen.pk} failed: {exc}")
        return "failed"
    lease.check()
    VM.objects.filter(pk=vm.pk).update(disk_mb=chosen.disk_mb or vm.disk_mb)
    state = VMState.RUNNING if start else VMState.POWEROFF
    try:
        transition(
            vm,
            state,
            set(VMState) - {VMState.DONE},
            source=EventSource.JOB,
            reason=f"restored from backup {chosen.pk} ({chosen.short_id})",
        )
    except InvalidTransition:
        pass  # terminated meanwhile
    log(f"restored from backup {chosen.pk} ({chosen.short_id}), verified; VM {state}")
    return "restored"


def run_delete(vm: VM, job: VMJob, lease, log) -> str:
    chosen = VMBackup.objects.select_related("store").filter(pk=job.params.get("backup")).first()
    if chosen is None:
        return "nothing to do: the backup is gone"
    env = {"VM": vm.container_name, "ACTION": "forget", "SNAPSHOTS": chosen.snapshot_id}
    try:
        hostside.run(vm.host, chosen.store, chosen.repository_key, env, log)
    except hostside.BackupError as exc:
        lease.check()
        VMBackup.objects.filter(pk=chosen.pk).update(state=BackupState.READY)
        log(f"backup {chosen.pk} not deleted: {exc}")
        return "failed"
    chosen.delete()
    log(f"backup {chosen.pk} ({chosen.short_id}) deleted from the store")
    return "backup deleted"


def restored_disk(vm: VM, log) -> str:
    """vms.jobhooks.disk_source: for a VM restored as a new one, its backup fetched onto its
    host and verified before its container is made; the path the deploy takes it from."""
    pending = PendingRestore.objects.select_related("backup__store").filter(vm=vm).first()
    if pending is None:
        return ""
    chosen = pending.backup
    env = {
        "VM": vm.container_name,
        "ACTION": "restore",
        "SNAPSHOT": chosen.snapshot_id,
        "MODE": "stage",
    }
    report = hostside.run(vm.host, chosen.store, chosen.repository_key, env, log)
    return report["STAGED"].split()[0] if "STAGED" in report else ""


def restore_done(vm: VM) -> None:
    """The VM runs with its restored disk: nothing is pending any more."""
    PendingRestore.objects.filter(vm=vm).delete()
