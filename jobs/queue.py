"""Putting a job's task on the broker: only once the transaction that made the job commits, so
a worker never picks up a task whose row it cannot see yet (or that was rolled back)."""

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task


def enqueue_on_commit(func: str, *args, task_name: str, robust: bool = False) -> None:
    """django-q2 runs `func(*args)` once the current transaction commits (at once outside
    one; in the caller's process with settings.JOBS_SYNC). `robust`: a broker that refuses the
    task is logged instead of raising into the code that committed."""
    transaction.on_commit(
        lambda: async_task(func, *args, task_name=task_name[:100], sync=settings.JOBS_SYNC),
        robust=robust,
    )
