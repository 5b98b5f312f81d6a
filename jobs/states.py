"""The life of a leased job: QUEUED until a worker claims it, RUNNING under its lease, then
SUCCESS or FAILED."""

from django.db import models


class JobState(models.TextChoices):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


JOB_TERMINAL = {JobState.SUCCESS, JobState.FAILED}
JOB_LIVE = {JobState.QUEUED, JobState.RUNNING}
