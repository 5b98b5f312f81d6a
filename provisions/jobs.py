"""django-q2 entry points: claim the job, pick the run, record the outcome. Nothing else."""

import logging

from core.choices import EventSource
from core.transitions import transition
from jobs import leases
from jobs.states import JobState
from providers.services import driver_for
from provisions import runs
from provisions.choices import JobKind, ProvisionState
from provisions.models import Job, Provision
from provisions.progress import JobRecorder

log = logging.getLogger(__name__)

# Jobs on a RUNNING provision's parts: its state does not pass through DEPLOYING, and their
# failure is the job's, not the provision's ERROR.
IN_PLACE = {JobKind.REMOVE_HOST, JobKind.FIREWALL}

ALIVE = {
    ProvisionState.PENDING,
    ProvisionState.DEPLOYING,
    ProvisionState.CONFIGURING,
    ProvisionState.RUNNING,
    ProvisionState.ERROR,
    ProvisionState.DELETING,
}


def run_job(job_id: int) -> str:
    """Claim the job under a lease, keep the lease renewed while it runs, and run it. A job
    whose lease is lost half-way (taken over after this worker stalled) stops at its next step
    and records nothing: the worker that took it over owns its outcome."""
    owner = leases.new_owner()
    job = leases.claim(job_id, owner, Job.objects.select_related("provision__provider"))
    if job is None:
        return "not claimed (already running or finished)"
    with leases.Heartbeat(job, owner) as heartbeat:
        try:
            return _run(job, JobRecorder(job, heartbeat=heartbeat))
        except leases.LeaseLost as exc:
            log.warning("%s; stopping", exc)
            return "lease lost"


def _run(job: Job, rec: JobRecorder) -> str:
    provision = job.provision
    deleting = job.kind == JobKind.DELETE
    try:
        if deleting:
            transition(
                provision,
                ProvisionState.DELETING,
                ALIVE,
                source=EventSource.JOB,
                actor=job.created_by,
                reason="delete requested",
            )
        elif job.kind in IN_PLACE:
            pass
        else:
            transition(
                provision,
                ProvisionState.DEPLOYING,
                {
                    ProvisionState.PENDING,
                    ProvisionState.ERROR,
                    ProvisionState.DEPLOYING,
                    ProvisionState.CONFIGURING,
                    ProvisionState.RUNNING,
                },
                source=EventSource.JOB,
                actor=job.created_by,
                reason=f"{job.kind} job {job.pk}",
            )
        driver = driver_for(provision.provider)
        if deleting:
            runs.DeleteRun(provision, driver, rec).run()
        elif job.kind == JobKind.REMOVE_HOST:
            host = provision.hosts.get(pk=job.options["host"])
            runs.RemoveHostRun(provision, driver, rec, host).run()
        elif job.kind == JobKind.FIREWALL:
            runs.FirewallRun(provision, driver, rec).run()
        else:
            runs.DeployRun(provision, driver, rec, repair=job.kind == JobKind.REPAIR).run()
    except runs.SimulatedCrash:
        raise
    except Exception as exc:
        rec.check_lease()  # a failure seen after losing the lease is not ours to record
        step = getattr(exc, "step", job.step or "start")
        message = str(exc) or exc.__class__.__name__
        if not isinstance(exc, runs.StepFailed):
            log.exception("job %s failed unexpectedly", job.pk)
        rec.error(f"{job.kind} failed at step {step}: {message}")
        rec.finish(JobState.FAILED, message)
        Provision.objects.filter(pk=provision.pk).update(
            failed_step=f"{'delete:' if deleting else ''}{step}", error=message
        )
        if job.kind not in IN_PLACE:
            provision.refresh_from_db()
            if provision.state != ProvisionState.ERROR:
                transition(
                    provision,
                    ProvisionState.ERROR,
                    {provision.state},
                    source=EventSource.JOB,
                    actor=job.created_by,
                    reason=f"{step}: {message}",
                )
        return "failed"
    rec.check_lease()
    rec.finish(JobState.SUCCESS)
    # A repair has just listed and mended the droplets: the drift it was started for is gone
    # (the next monitoring cycle checks again).
    repaired = {"drift": []} if job.kind == JobKind.REPAIR else {}
    Provision.objects.filter(pk=provision.pk).update(failed_step="", error="", **repaired)
    if deleting:
        transition(
            provision,
            ProvisionState.DONE,
            {ProvisionState.DELETING},
            source=EventSource.JOB,
            actor=job.created_by,
            reason="everything deleted and verified",
        )
    elif job.kind not in IN_PLACE:
        transition(
            provision,
            ProvisionState.RUNNING,
            {ProvisionState.CONFIGURING, ProvisionState.DEPLOYING},
            source=EventSource.JOB,
            actor=job.created_by,
            reason="all hosts configured",
        )
    rec.log(f"{job.kind} finished")
    return "success"
