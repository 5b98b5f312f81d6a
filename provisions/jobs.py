"""django-q2 entry points: claim the job, pick the run, record the outcome. Nothing else."""

import logging

from django.utils import timezone

from providers.services import driver_for
from provisions import deploy
from provisions.choices import JobKind, JobState, ProvisionState
from provisions.models import Job, Provision
from provisions.progress import JobRecorder
from provisions.services import transition

log = logging.getLogger(__name__)

ALIVE = {
    ProvisionState.PENDING,
    ProvisionState.DEPLOYING,
    ProvisionState.CONFIGURING,
    ProvisionState.RUNNING,
    ProvisionState.ERROR,
    ProvisionState.DELETING,
}


def claim(job_id: int) -> Job | None:
    """QUEUED -> RUNNING in one conditional UPDATE: two workers never both run a job."""
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=timezone.now()
    )
    return Job.objects.select_related("provision__provider").get(pk=job_id) if claimed else None


def run_job(job_id: int) -> str:
    job = claim(job_id)
    if job is None:
        return "not claimed (already running or finished)"
    provision = job.provision
    rec = JobRecorder(job)
    deleting = job.kind == JobKind.DELETE
    try:
        if deleting:
            transition(
                provision, ProvisionState.DELETING, ALIVE, job.created_by, "delete requested"
            )
        elif job.kind == JobKind.REMOVE_HOST:
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
                job.created_by,
                f"{job.kind} job {job.pk}",
            )
        driver = driver_for(provision.provider)
        if deleting:
            deploy.DeleteRun(provision, driver, rec).run()
        elif job.kind == JobKind.REMOVE_HOST:
            host = provision.hosts.get(pk=job.options["host"])
            deploy.RemoveHostRun(provision, driver, rec, host).run()
        else:
            deploy.DeployRun(provision, driver, rec).run()
    except deploy.SimulatedCrash:
        raise
    except Exception as exc:
        step = getattr(exc, "step", job.step or "start")
        message = str(exc) or exc.__class__.__name__
        if not isinstance(exc, deploy.StepFailed):
            log.exception("job %s failed unexpectedly", job.pk)
        rec.error(f"{job.kind} failed at step {step}: {message}")
        rec.finish(JobState.FAILED, message)
        Provision.objects.filter(pk=provision.pk).update(
            failed_step=f"{'delete:' if deleting else ''}{step}", error=message
        )
        if job.kind != JobKind.REMOVE_HOST:
            provision.refresh_from_db()
            if provision.state != ProvisionState.ERROR:
                transition(
                    provision,
                    ProvisionState.ERROR,
                    {provision.state},
                    job.created_by,
                    f"{step}: {message}",
                )
        return "failed"
    rec.finish(JobState.SUCCESS)
    Provision.objects.filter(pk=provision.pk).update(failed_step="", error="")
    if deleting:
        transition(
            provision,
            ProvisionState.DONE,
            {ProvisionState.DELETING},
            job.created_by,
            "everything deleted and verified",
        )
    elif job.kind != JobKind.REMOVE_HOST:
        transition(
            provision,
            ProvisionState.RUNNING,
            {ProvisionState.CONFIGURING, ProvisionState.DEPLOYING},
            job.created_by,
            "all hosts configured",
        )
    rec.log(f"{job.kind} finished")
    return "success"
