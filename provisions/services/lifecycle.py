"""A provision's jobs, started by its owner or an operator: retry, configure, repair, delete,
and the job row every one of them (and every other operation) starts with start_job."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from core.choices import EventSource
from core.transitions import transition
from jobs import leases
from jobs.queue import enqueue_on_commit
from jobs.states import JOB_LIVE, JobState
from providers.drivers import CloudError
from providers.services import driver_for
from provisions import deletion, hooks, metering
from provisions.choices import HostState, JobKind, ProvisionState, ResourceState
from provisions.hoststates import move_hosts
from provisions.models import CloudResource, Job, JobLogLine, Provision
from provisions.services.lookup import changeable


def enqueue_job(job: Job) -> None:
    """Put the job's task on the broker once the transaction commits (at once outside one)."""
    enqueue_on_commit("provisions.jobs.run_job", job.pk, task_name=f"provision-{job.kind}-{job.pk}")


def start_job(provision: Provision, kind: str, user, **options) -> Job:
    live = provision.jobs.filter(state__in=JOB_LIVE).first()
    if live is not None:
        raise ValidationError(
            f"provision {provision.name} already has a job running ({live.kind} #{live.pk}, "
            f"{live.state}); wait for it to finish"
        )
    # While QUEUED, the lease's expiry is the pick-up deadline (jobs.leases.sweep).
    job = Job.objects.create(
        provision=provision,
        kind=kind,
        created_by=user,
        options=options,
        lease_expires_at=timezone.now() + timezone.timedelta(seconds=settings.JOB_LEASE_SECONDS),
    )
    enqueue_job(job)
    return job


def lost_job(provision: Provision) -> Job | None:
    """The provision's RUNNING job if its worker stopped answering (missed heartbeats): the
    user need not wait for its lease to expire."""
    job = provision.jobs.filter(state=JobState.RUNNING).first()
    return job if job is not None and leases.worker_lost(job) else None


def retry_provision(user, provision: Provision, *, force: bool = False) -> Job:
    """Resume at the step that failed: from ERROR, or at once when the job's worker died (its
    job is taken over and resumed, as the lease sweep would a little later). Earlier steps find
    their work done in the ledger and pass through. `force` (operators) abandons a live job."""
    changeable(user, provision)
    lost = lost_job(provision)
    if lost is not None and leases.take_over(lost, f"retry by {user}"):
        provision.jobs.filter(pk=lost.pk).update(created_by=user)
        enqueue_job(lost)
        return Job.objects.get(pk=lost.pk)
    if force:
        provision.jobs.filter(state__in=JOB_LIVE).update(
            state=JobState.FAILED, error="abandoned by retry", finished_at=timezone.now()
        )
    allowed = {ProvisionState.ERROR}
    if force:
        allowed |= {
            ProvisionState.DEPLOYING,
            ProvisionState.CONFIGURING,
            ProvisionState.DELETING,
            ProvisionState.PENDING,
        }
    if provision.state not in allowed:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a "
            "provision in ERROR can be retried"
        )
    last = provision.jobs.exclude(state=JobState.SUCCESS).first()
    kind = JobKind.DELETE if last is not None and last.kind == JobKind.DELETE else JobKind.DEPLOY
    return start_job(provision, kind, user, retry=True)


def configure_provision(user, provision: Provision, *, force: bool = False, host=None) -> Job:
    """Run host configuration again (OpenNebula's `oneprovision configure`): the hosts, or one
    `host`, go back to INIT and a deploy job, whose reconciler configures every host that is
    not RUNNING and passes through the cloud steps already done, configures them. The whole
    provision only from ERROR unless `force`; one host of a RUNNING or ERROR provision."""
    changeable(user, provision)
    allowed = {ProvisionState.ERROR}
    if force or host is not None:
        allowed.add(ProvisionState.RUNNING)
    if provision.state not in allowed:
        only = "a RUNNING or ERROR provision" if len(allowed) > 1 else "a provision in ERROR"
        hint = "" if len(allowed) > 1 else " (or use force)"
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only {only} can be configured{hint}"
        )
    hosts = provision.hosts.exclude(state__in=[HostState.REMOVING, HostState.REMOVED])
    if host is not None:
        if host.provision_id != provision.pk:
            raise Http404(f"host {host.pk} not found")
        hosts = hosts.filter(pk=host.pk)
        if not hosts.exists():
            raise ValidationError(f"host {host.name} is {host.state}; it cannot be configured")
    with transaction.atomic():
        # Refused (a job running) rolls the hosts' state back with it.
        move_hosts(
            hosts, HostState.INIT, source=EventSource.USER, actor=user, reason="configure again"
        )
        options = {"configure": True} | ({"host": host.pk} if host is not None else {})
        return start_job(provision, JobKind.DEPLOY, user, **options)


def needs_repair(provision: Provision) -> list[str]:
    """What a Repair would mend: the drift monitoring found, and hosts in ERROR."""
    found = list(provision.drift or [])
    for host in provision.hosts.filter(state=HostState.ERROR):
        line = f"{host.name}: {host.get_problem_display() if host.problem else host.last_error}"
        if not any(f.startswith(f"{host.name}:") for f in found):
            found.append(line)
    return found


def repair_provision(user, provision: Provision) -> Job:
    """Bring a drifted cluster back to what the ledger says: the same reconciler as a deploy,
    which re-creates the droplets gone from DigitalOcean, powers on those found off and
    configures every host that is not RUNNING."""
    changeable(user, provision)
    if provision.state not in {ProvisionState.RUNNING, ProvisionState.ERROR}:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a RUNNING or ERROR "
            "provision can be repaired"
        )
    if not needs_repair(provision):
        raise ValidationError(
            f"provision {provision.name} has nothing to repair: no drift found and every "
            "host is RUNNING"
        )
    return start_job(provision, JobKind.REPAIR, user)


def delete_provision(user, provision: Provision, *, cleanup: bool = False, force: bool = False):
    """Delete everything the provision made in DigitalOcean; works from any state but DONE.

    Refused while the cluster has live VMs unless `cleanup` (the delete job then terminates
    them). `force` (operators) is for a provision in ERROR whose cloud side is already gone:
    instead of a job, one verification listing, then the provision is DONE (see force_delete).
    """
    changeable(user, provision)
    if provision.state == ProvisionState.DONE:
        raise ValidationError(f"provision {provision.name} is already deleted")
    if force and not user.is_staff:
        raise PermissionDenied("a forced delete is for operators")
    refusal = deletion.live_vms_refusal(provision)
    if refusal and not cleanup:
        raise ValidationError(refusal)
    lost = lost_job(provision)
    if lost is not None:
        leases.abandon(lost, "abandoned: its worker stopped answering")
    if force:
        return force_delete(user, provision)
    return start_job(provision, JobKind.DELETE, user, cleanup=cleanup)


def force_delete(user, provision: Provision) -> Job:
    """An ERROR provision whose droplets, firewall, VPC and key are already gone (deleted by
    hand, or the account emptied): the delete job would SSH to hosts that no longer exist and
    delete what is not there. Instead, the delete job's verification listing runs now; only if
    it finds nothing are the VMs released (no SSH: their hosts are gone), the ledger closed and
    the provision DONE, recorded as a finished delete job with the listing in its log."""
    if provision.state != ProvisionState.ERROR:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; only a provision in ERROR "
            "can be deleted with force"
        )
    try:
        left = deletion.cloud_leftovers(provision, driver_for(provision.provider))
    except CloudError as exc:
        raise ValidationError(f"cannot verify what is left in DigitalOcean: {exc}") from exc
    if left:
        raise ValidationError(
            f"provision {provision.name} still has in DigitalOcean: {', '.join(left)}; "
            "delete it without force so the delete job removes them"
        )
    now = timezone.now()
    with transaction.atomic():
        provision.jobs.filter(state__in=JOB_LIVE).update(
            state=JobState.FAILED, error="abandoned by a forced delete", finished_at=now
        )
        job = Job.objects.create(
            provision=provision,
            kind=JobKind.DELETE,
            created_by=user,
            options={"force": True},
            state=JobState.SUCCESS,
            step="verify",
            steps_done=1,
            steps_total=1,
            started_at=now,
            finished_at=now,
        )

        def log_line(message: str, level: str = "info") -> None:
            JobLogLine.objects.create(job=job, level=level, message=message)

        log_line(
            f"forced delete by {user}: verified nothing tagged or named {provision.tag} is "
            "left in DigitalOcean (droplets, firewalls, VPCs, SSH key)"
        )
        # Hosts first: with no host left to reach, the VMs' end releases rows without SSH.
        move_hosts(
            provision.hosts.all(),
            HostState.REMOVED,
            source=EventSource.USER,
            actor=user,
            reason="forced delete",
        )
        ended = sum(hooks.end_cluster_vms(provision, log_line))
        if ended:
            log_line(f"{ended} VM(s) released with the cluster")
        CloudResource.objects.filter(provision=provision).exclude(
            state=ResourceState.DELETED
        ).update(state=ResourceState.DELETED, deleted_at=now)
        metering.provision_ended(provision, now)
        transition(
            provision,
            ProvisionState.DONE,
            {ProvisionState.ERROR},
            source=EventSource.USER,
            actor=user,
            reason="forced delete: nothing left in DigitalOcean",
        )
    return job
