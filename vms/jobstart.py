"""A VM's log lines and the job rows that carry out its work on the host: the few helpers the
operations (services, placement, recovery) share, below all of them."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.queue import enqueue_on_commit
from vms.models import VM, VMJob, VMLogLine

log = logging.getLogger(__name__)


def vm_log(vm, message: str, level: str = "info") -> None:
    VMLogLine.objects.create(vm=vm, message=message, level=level)
    log.info("vm %s: %s", vm.pk, message)


def start_job(vm: VM, action: str, **params) -> VMJob:
    """A VMJob row for the action, its task enqueued once the transaction commits. While it
    is QUEUED its lease expiry is the pick-up deadline: a task lost with a worker is enqueued
    again by the lease sweep. `params`: what the action works on beyond the VM."""
    job = VMJob.objects.create(
        vm=vm,
        action=action,
        params=params,
        lease_expires_at=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS),
    )
    enqueue_job(job)
    return job


def enqueue_job(job: VMJob) -> None:
    enqueue_on_commit(
        "vms.jobs.run_vm_job",
        job.vm_id,
        job.action,
        job.pk,
        task_name=f"vm-{job.action}-{job.vm_id}-job-{job.pk}",
    )
