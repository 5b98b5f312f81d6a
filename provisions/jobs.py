"""django-q2 entry points: claim the job, pick the run, record the outcome. Nothing else."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

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

ALIVE = frozenset(
    {
        ProvisionState.PENDING,
        ProvisionState.DEPLOYING,
        ProvisionState.CONFIGURING,
        ProvisionState.RUNNING,
        ProvisionState.ERROR,
        ProvisionState.DELETING,
    }
)


@dataclass(frozen=True)
class Plan:
    """How one kind of job runs. `run(job, driver, recorder)` makes its Run. The provision goes
    to `start` (from one of `start_from`) before the run and to `end` (from one of `end_from`)
    once it succeeds; a failure makes it ERROR. Without `start`, the job works on a RUNNING
    provision's parts: its state stays, and a failure is the job's, not the provision's."""

    run: Callable[[Job, object, JobRecorder], runs.Run]
    start: str | None = None
    start_from: frozenset = frozenset()
    start_reason: str = ""  # formatted with the job's `kind` and `pk`
    end: str | None = None
    end_from: frozenset = frozenset()
    end_reason: str = ""
    step_prefix: str = ""  # before the failed step's name in Provision.failed_step


def _deploy_plan(repair: bool = False) -> Plan:
    return Plan(
        run=lambda job, driver, rec: runs.DeployRun(job.provision, driver, rec, repair=repair),
        start=ProvisionState.DEPLOYING,
        start_from=ALIVE - {ProvisionState.DELETING},
        start_reason="{kind} job {pk}",
        end=ProvisionState.RUNNING,
        end_from=frozenset({ProvisionState.CONFIGURING, ProvisionState.DEPLOYING}),
        end_reason="all hosts configured",
    )


PLANS = {
    JobKind.DEPLOY: _deploy_plan(),
    JobKind.ADD_HOST: _deploy_plan(),
    JobKind.REPAIR: _deploy_plan(repair=True),
    JobKind.DELETE: Plan(
        run=lambda job, driver, rec: runs.DeleteRun(job.provision, driver, rec),
        start=ProvisionState.DELETING,
        start_from=ALIVE,
        start_reason="delete requested",
        end=ProvisionState.DONE,
        end_from=frozenset({ProvisionState.DELETING}),
        end_reason="everything deleted and verified",
        step_prefix="delete:",
    ),
    JobKind.REMOVE_HOST: Plan(
        run=lambda job, driver, rec: runs.RemoveHostRun(
            job.provision, driver, rec, job.provision.hosts.get(pk=job.options["host"])
        )
    ),
    JobKind.FIREWALL: Plan(
        run=lambda job, driver, rec: runs.FirewallRun(job.provision, driver, rec)
    ),
    JobKind.FENCE: Plan(
        run=lambda job, driver, rec: runs.FenceRun(
            job.provision, driver, rec, job.provision.hosts.get(pk=job.options["host"])
        )
    ),
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


def _move(job: Job, to: str, expected, reason: str) -> None:
    transition(
        job.provision, to, expected, source=EventSource.JOB, actor=job.created_by, reason=reason
    )


def _run(job: Job, rec: JobRecorder) -> str:
    provision = job.provision
    plan = PLANS[job.kind]
    try:
        if plan.start is not None:
            reason = plan.start_reason.format(kind=job.kind, pk=job.pk)
            _move(job, plan.start, plan.start_from, reason)
        plan.run(job, driver_for(provision.provider), rec).run()
    except Exception as exc:
        _failed(job, plan, rec, exc)
        return "failed"
    rec.check_lease()
    rec.finish(JobState.SUCCESS)
    # A repair has just listed and mended the droplets: the drift it was started for is gone
    # (the next monitoring cycle checks again).
    repaired = {"drift": []} if job.kind == JobKind.REPAIR else {}
    Provision.objects.filter(pk=provision.pk).update(failed_step="", error="", **repaired)
    if plan.end is not None:
        _move(job, plan.end, plan.end_from, plan.end_reason)
    rec.log(f"{job.kind} finished")
    return "success"


def _failed(job: Job, plan: Plan, rec: JobRecorder, exc: Exception) -> None:
    rec.check_lease()  # a failure seen after losing the lease is not ours to record
    provision = job.provision
    step = getattr(exc, "step", job.step or "start")
    message = str(exc) or exc.__class__.__name__
    if not isinstance(exc, runs.StepFailed):
        log.exception("job %s failed unexpectedly", job.pk)
    rec.error(f"{job.kind} failed at step {step}: {message}")
    rec.finish(JobState.FAILED, message)
    Provision.objects.filter(pk=provision.pk).update(
        failed_step=f"{plan.step_prefix}{step}", error=message
    )
    if plan.start is not None:
        provision.refresh_from_db()
        if provision.state != ProvisionState.ERROR:
            _move(job, ProvisionState.ERROR, {provision.state}, f"{step}: {message}")
