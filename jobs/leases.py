"""Job leases: jobs that survive a dead worker.

A worker claims a job with a lease and renews it from a heartbeat thread while the job runs. A
worker killed outright (SIGKILL, OOM, a reboot) stops renewing; once the lease has expired any
worker's sweep puts the job back in the queue and the next worker resumes it from the ledger
(jobs are reconcilers, so the steps already done pass straight through).

Every change of hands is one conditional UPDATE on the job row (QUEUED -> RUNNING when
claiming; RUNNING with *this* owner and *this* expiry -> QUEUED when taking over), so two
workers never both hold a job, on SQLite or PostgreSQL alike.

Any job model with the lease fields (`state`, `lease_owner`, `heartbeat_at`,
`lease_expires_at`, `takeovers`, `started_at`) and a `note(message, level)` method can be
leased: provision jobs (provisions.Job) and VM jobs (vms.VMJob). Each change of hands is noted
in the job's log in the same transaction, so the log tells who held the job when.
"""

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from jobs.states import JobState

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer holds the job's lease: another worker took it over, or a user
    abandoned the job. Stop at once and record nothing: the job is someone else's now."""


def new_owner() -> str:
    """Who holds a lease: host and process, plus a random part so a restarted process with a
    recycled PID is never mistaken for the old one."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def _expiry(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def claim(job_id: int, owner: str, queryset):
    """QUEUED -> RUNNING under `owner`'s lease, in one conditional UPDATE. `queryset` says
    which job model (and what to fetch with the job)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = queryset.model.objects.filter(pk=job_id, state=JobState.QUEUED).update(
            state=JobState.RUNNING,
            started_at=now,
            lease_owner=owner,
            heartbeat_at=now,
            lease_expires_at=_expiry(now),
        )
        if not claimed:
            return None
        job = queryset.get(pk=job_id)
        job.note(f"worker {owner} started the job")
    return job


def ended(job, owner: str, **fields) -> bool:
    """RUNNING -> the outcome in `fields`, only while `owner` still holds the lease, noted in
    the job's log: a worker that lost the lease records nothing."""
    with transaction.atomic():
        done = bool(
            type(job)
            .objects.filter(pk=job.pk, state=JobState.RUNNING, lease_owner=owner)
            .update(finished_at=timezone.now(), **fields)
        )
        if done:
            job.note(f"worker {owner} ended the job: {fields.get('state', '')}")
    return done


def renew(model, job_id: int, owner: str) -> bool:
    now = timezone.now()
    return bool(
        model.objects.filter(pk=job_id, state=JobState.RUNNING, lease_owner=owner).update(
            heartbeat_at=now, lease_expires_at=_expiry(now)
        )
    )


class Heartbeat:
    """Renews a job's lease every JOB_HEARTBEAT_SECONDS from a thread of its own, for as long
    as the job runs; `check()` (called between steps) raises LeaseLost once a renewal found the
    lease gone."""

    def __init__(self, job, owner: str):
        self.job_id = job.pk
        self.model = type(job)
        self.owner = owner
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.pk}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=settings.JOB_HEARTBEAT_SECONDS + 5)

    def _beat(self):
        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                try:
                    if not renew(self.model, self.job_id, self.owner):
                        if self._ended_by_owner():
                            return  # the job ended between two beats: nothing was lost
                        self.lost = True
                        log.warning("job %s: lease lost by %s", self.job_id, self.owner)
                        return
                except Exception:  # a database hiccup: try again next beat, the lease has slack
                    log.exception("job %s: lease renewal failed", self.job_id)
        finally:
            connection.close()

    def _ended_by_owner(self) -> bool:
        # ended() keeps the owner; a takeover clears it (sweep below).
        return (
            self.model.objects.filter(pk=self.job_id, lease_owner=self.owner)
            .exclude(state=JobState.RUNNING)
            .exists()
        )

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"job {self.job_id}: lease lost by {self.owner}")


def _as_seen(job):
    """The job's row while it is still RUNNING under the very lease read into `job`: the
    condition that makes take-over and abandon atomic against each other and the holder."""
    return type(job).objects.filter(
        pk=job.pk,
        state=JobState.RUNNING,
        lease_owner=job.lease_owner,
        lease_expires_at=job.lease_expires_at,
    )


def take_over(job, why: str) -> bool:
    """RUNNING -> QUEUED for a job whose worker is gone, conditional on the lease being the one
    we looked at: of several workers sweeping at once, exactly one wins."""
    now = timezone.now()
    # The note commits with the change: no worker can claim the job (and note that) before
    # the log says the previous holder lost it.
    with transaction.atomic():
        taken = _as_seen(job).update(
            state=JobState.QUEUED,
            lease_owner="",
            heartbeat_at=None,
            # While QUEUED the expiry is the pick-up deadline: a task lost by the broker too
            # (the worker died holding it) is enqueued again by a later sweep.
            lease_expires_at=_expiry(now),
            takeovers=F("takeovers") + 1,
        )
        if taken:
            job.note(
                f"worker {job.lease_owner or '(unknown)'} lost: {why}; job taken over "
                "and resumed from the ledger",
                "warning",
            )
    if taken:
        log.warning("%s %s taken over: %s", type(job).__name__, job.pk, why)
    return bool(taken)


def abandon(job, why: str) -> bool:
    """RUNNING -> FAILED for a job whose worker stopped answering, conditional like take_over:
    a worker that comes back finds its lease gone and stops."""
    abandoned = _as_seen(job).update(state=JobState.FAILED, error=why, finished_at=timezone.now())
    if abandoned:
        job.note(why, "warning")
    return bool(abandoned)


def sweep(model, enqueue) -> list[int]:
    """Take over every job whose lease expired and enqueue it again; also enqueue again QUEUED
    jobs not picked up by their deadline (their task died with a worker). `enqueue(job)` puts a
    job's task on the broker; a duplicate task is harmless, since only one claim succeeds."""
    now = timezone.now()
    resumed = []
    for job in model.objects.filter(state=JobState.RUNNING, lease_expires_at__lt=now):
        seen = job.heartbeat_at or job.lease_expires_at
        if take_over(job, f"no heartbeat since {seen:%H:%M:%S} (lease expired)"):
            enqueue(job)
            resumed.append(job.pk)
    late = model.objects.filter(state=JobState.QUEUED, lease_expires_at__lt=now)
    for job in late:
        if model.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            lease_expires_at=_expiry(now)
        ):
            enqueue(job)
            resumed.append(job.pk)
    return resumed


def worker_lost(job) -> bool:
    """Whether a RUNNING job's worker has missed its heartbeats (three in a row): a user may
    then take the job over at once instead of waiting for the lease to expire."""
    if job.state != JobState.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at
    if last is None:
        return True
    return timezone.now() - last > timedelta(seconds=3 * settings.JOB_HEARTBEAT_SECONDS)
