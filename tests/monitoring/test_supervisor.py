"""The supervisor loop's leases: one monitor among many workers, taken over when it dies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.states import JobState
from monitoring.models import WorkerLease
from portal import supervisor
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


def test_the_sweep_ends_the_console_sessions_of_a_dead_process(owner, settings):
    # Its web process was SIGKILLed: the row is ended by any worker's next tick (which sweeps),
    # not only when its owner next opens a console.
    from consoles.choices import EndReason
    from consoles.models import ConsoleSession

    settings.CONSOLE_BEAT_SECONDS = 5
    dead, alive = (
        ConsoleSession.objects.create(owner=owner, username="alice", target=t, via="CLI")
        for t in ("dead", "alive")
    )
    last_beat = timezone.now() - timedelta(seconds=16)  # more than 3 beats ago
    ConsoleSession.objects.filter(pk=dead.pk).update(seen_at=last_beat)
    supervisor.Supervisor().sweep()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.end_reason == EndReason.LOST and dead.ended_at == dead.seen_at
    assert alive.ended_at is None and alive.end_reason == ""
