"""Entries are kept AUDIT_RETENTION_DAYS, then purged after a monitoring cycle in batches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import retention
from audit.models import AuditEntry
from monitoring import cyclehooks

pytestmark = pytest.mark.django_db


def make(days_ago: float, n: int = 1):
    at = timezone.now() - timedelta(days=days_ago)
    AuditEntry.objects.bulk_create(
        AuditEntry(at=at, channel="page", action="update", outcome="ok") for _ in range(n)
    )


def test_the_purge_deletes_only_entries_past_the_retention(settings, monkeypatch):
    settings.AUDIT_RETENTION_DAYS = 30
    monkeypatch.setattr(retention, "BATCH", 3)  # several batches
    make(31, 7)
    make(29, 2)
    assert retention.purge() == 7
    assert AuditEntry.objects.count() == 2


def test_a_monitoring_cycle_purges(settings):
    settings.AUDIT_RETENTION_DAYS = 1
    make(2)
    make(0)
    assert retention.cycle_ended in cyclehooks.cycle_ended.callables
    cyclehooks.cycle_ended(None)
    assert AuditEntry.objects.count() == 1


def test_zero_keeps_everything(settings):
    settings.AUDIT_RETENTION_DAYS = 0
    make(5000)
    assert retention.purge() == 0 and AuditEntry.objects.count() == 1
