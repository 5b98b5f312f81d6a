"""What every leased background job row has (jobs.leases runs any of them): provision
jobs (provisions.Job) and VM jobs (vms.VMJob)."""

from django.db import models

from jobs.states import JobState


class LeasedJob(models.Model):
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker running the job: renewed by its heartbeat; once expired, any
    # worker may take the job over and resume it. While QUEUED, `lease_expires_at` is the
    # pick-up deadline (a task lost with its worker is enqueued again by the sweep).
    lease_owner = models.CharField(max_length=80, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    takeovers = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "lease_expires_at"])]

    def note(self, message: str, level: str = "info") -> None:
        """A line in the job's log: jobs.leases notes each change of hands there."""
        raise NotImplementedError
