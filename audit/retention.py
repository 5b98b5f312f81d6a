"""Entries are kept AUDIT_RETENTION_DAYS (0: for ever), then deleted after a monitoring cycle,
a batch at a time so no delete holds the table long."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import AuditEntry

BATCH = 1000


def purge(now=None) -> int:
    """Delete the entries past the retention; how many went."""
    days = settings.AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    removed = 0
    while True:
        batch = list(
            AuditEntry.objects.filter(at__lt=cutoff)
            .order_by("at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not batch:
            return removed
        removed += AuditEntry.objects.filter(pk__in=batch).delete()[0]


def cycle_ended(report) -> None:
    purge()
