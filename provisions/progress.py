"""What a running job tells the world: its step, progress and log lines, saved as they happen."""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.utils import timezone

from core import metrics
from jobs import leases
from provisions.models import Job, JobLogLine

log = logging.getLogger("provisions.jobs")


class JobRecorder:
    def __init__(self, job: Job, heartbeat=None):
        self.job = job
        # The job's lease heartbeat (jobs.leases), when run by a worker under a lease.
        self.heartbeat = heartbeat

    def check_lease(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.check()

    def log(self, message: str, level: str = "info") -> None:
        JobLogLine.objects.create(job_id=self.job.pk, level=level, message=message)
        log.log(
            logging.ERROR if level == "error" else logging.INFO, "job %s: %s", self.job.pk, message
        )

    def error(self, message: str) -> None:
        self.log(message, "error")

    def step(self, name: str, done: int, total: int) -> None:
        # Between steps is where a worker that lost its lease stops, before doing anything more.
        self.check_lease()
        Job.objects.filter(pk=self.job.pk).update(step=name, steps_done=done, steps_total=total)
        self.job.step, self.job.steps_done, self.job.steps_total = name, done, total
        self.log(f"step {done + 1}/{total}: {name}")

    def finish(self, state: str, error: str = "") -> None:
        fields = {"state": state, "error": error}
        if not error:
            fields["steps_done"] = self.job.steps_total
        if self.heartbeat is None:
            Job.objects.filter(pk=self.job.pk).update(finished_at=timezone.now(), **fields)
        elif not leases.ended(self.job, self.heartbeat.owner, **fields):
            return  # the lease was lost: the job's new holder records its outcome
        if self.job.started_at is not None:
            metrics.observe_job_duration(
                "provision",
                self.job.kind,
                state,
                (timezone.now() - self.job.started_at).total_seconds(),
            )


def in_thread(func):
    """Worker-thread wrapper: Django opens a DB connection per thread; close it after."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()

    return wrapper


def in_parallel(func, items, max_workers: int = 32) -> list:
    """func(item) for every item at once (one thread each, up to max_workers), results in
    order; each thread closes its database connection when done."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(in_thread(func), items))
