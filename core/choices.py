"""Vocabularies every app shares, with the apps' own in `<app>/choices.py`."""

from django.db import models


class EventSource(models.TextChoices):
    """Who moved a state: a person, a job, or monitoring (which only ever reports)."""

    USER = "user"
    JOB = "job"
    MONITOR = "monitor"
