"""The supervisor loop's leases: one monitor among many workers, taken over when it dies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import supervisor
from monitoring.models import WorkerLease
from provisions.choices import JobState
from provisions.models import Job

pytestmark = pytest.mark.django_db


def test_only_one_worker_holds_the_monitor_lease_until_it_expires():
    assert supervisor.hold("monitor", "a")
    assert supervisor.hold("monitor", "a")  # renewing
    assert not supervisor.hold("monitor", "b")
    WorkerLease.objects.filter(name="monitor").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert supervisor.hold("monitor", "b")
    assert not supervisor.hold("monitor", "a")
    supervisor.release("monitor", "b")
    assert supervisor.hold("monitor", "a")


def test_tick_sweeps_lost_jobs_and_only_the_lease_holder_monitors(cluster, monkeypatch):
    cycles = []
    monkeypatch.setattr(supervisor, "run_cycle", lambda: cycles.append(1))
    enqueued = []
    monkeypatch.setattr(supervisor, "enqueue_job", enqueued.append)
    past = timezone.now() - timedelta(seconds=300)
    job = cluster.jobs.get()
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, lease_owner="gone", lease_expires_at=past, heartbeat_at=past
    )
    first, second = supervisor.Supervisor(), supervisor.Supervisor()
    first.tick()
    second.tick()
    assert len(cycles) == 1 and first.cycles == 1 and second.cycles == 0
    assert [j.pk for j in enqueued] == [job.pk]
