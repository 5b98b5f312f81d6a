"""Job leases: claim, heartbeat, take-over of a job whose worker died, and the user's retry or
delete of such a provision without waiting for the lease."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from jobs import leases
from jobs.states import JobState
from provisions import jobs, services
from provisions.choices import ProvisionState
from provisions.models import Job, Provision
from tests.concurrency import run_in_threads


@pytest.fixture
def running_job(cluster):
    """The cluster's deploy job as a worker that died left it: RUNNING, lease expired."""
    job = cluster.jobs.get()
    past = timezone.now() - timedelta(seconds=120)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        lease_owner="dead-host:4242:abcdef",
        heartbeat_at=past,
        lease_expires_at=past,
        started_at=past,
    )
    Provision.objects.filter(pk=cluster.pk).update(state=ProvisionState.CONFIGURING)
    cluster.refresh_from_db()
    job.refresh_from_db()
    return job


def test_claim_takes_a_lease_and_a_second_claim_fails(cluster):
    job = cluster.jobs.get()
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
    claimed = leases.claim(job.pk, "w1", Job.objects.all())
    assert claimed.state == JobState.RUNNING and claimed.lease_owner == "w1"
    assert claimed.lease_expires_at > timezone.now()
    assert leases.claim(job.pk, "w2", Job.objects.all()) is None
    assert leases.renew(Job, job.pk, "w1") and not leases.renew(Job, job.pk, "w2")


def test_sweep_takes_over_an_expired_job_once_and_enqueues_it(running_job):
    enqueued = []
    assert leases.sweep(Job, enqueued.append) == [running_job.pk]
    running_job.refresh_from_db()
    assert running_job.state == JobState.QUEUED and running_job.takeovers == 1
    assert running_job.lease_owner == ""
    assert "dead-host:4242:abcdef lost" in running_job.lines.last().message
    assert [j.pk for j in enqueued] == [running_job.pk]
    # Nothing more to take over; the new pick-up deadline has not passed.
    assert leases.sweep(Job, enqueued.append) == []


def test_sweep_leaves_a_job_with_a_live_lease_alone(running_job):
    Job.objects.filter(pk=running_job.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert leases.sweep(Job, lambda job: None) == []
    running_job.refresh_from_db()
    assert running_job.state == JobState.RUNNING


def test_sweep_enqueues_again_a_queued_job_not_picked_up_in_time(cluster):
    job = cluster.jobs.get()
    Job.objects.filter(pk=job.pk).update(
        state=JobState.QUEUED, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    enqueued = []
    assert leases.sweep(Job, enqueued.append) == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.lease_expires_at > timezone.now()


@pytest.mark.django_db(transaction=True)
def test_concurrent_take_overs_of_one_job_have_exactly_one_winner(owner):
    from tests.factories import make_provider

    provider = make_provider(owner, name="do")
    provision = services.create_provision(owner, provider=provider, name="dc")
    job = provision.jobs.get()
    past = timezone.now() - timedelta(seconds=120)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, lease_owner="dead", lease_expires_at=past, heartbeat_at=past
    )
    job.refresh_from_db()
    won = []

    def work(index):
        if leases.take_over(Job.objects.get(pk=job.pk), f"sweeper {index}"):
            won.append(index)

    assert run_in_threads(work, 8) == []
    assert len(won) == 1, f"{connection.vendor}: {won}"
    job.refresh_from_db()
    assert job.takeovers == 1


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection
def test_a_worker_that_lost_its_lease_is_told_to_stop(running_job, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    Job.objects.filter(pk=running_job.pk).update(lease_owner="me")
    running_job.refresh_from_db()
    with leases.Heartbeat(running_job, "me") as beat:
        Job.objects.filter(pk=running_job.pk).update(lease_owner="someone-else")
        for _ in range(100):
            if beat.lost:
                break
            beat._stop.wait(0.05)
        with pytest.raises(leases.LeaseLost):
            beat.check()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_ended_between_two_beats_lost_nothing(running_job, settings, caplog):
    # ended() ran just before the heartbeat's next renewal: no "lease lost" warning, no stop.
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    Job.objects.filter(pk=running_job.pk).update(lease_owner="me")
    running_job.refresh_from_db()
    with leases.Heartbeat(running_job, "me") as beat:
        assert leases.ended(running_job, "me", state=JobState.SUCCESS)
        beat._thread.join(timeout=5)  # the next renewal finds the job ended, and stops
        assert not beat._thread.is_alive()
        beat.check()
    assert "lease lost" not in caplog.text


def test_run_job_does_not_run_a_job_another_worker_holds(running_job):
    Job.objects.filter(pk=running_job.pk).update(lease_expires_at=timezone.now())
    assert jobs.run_job(running_job.pk).startswith("not claimed")


def test_retry_takes_over_a_job_whose_worker_stopped_answering(running_job, owner):
    # The lease has not expired yet, but three heartbeats were missed: no need to wait.
    Job.objects.filter(pk=running_job.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=30)
    )
    job = services.retry_provision(owner, running_job.provision)
    assert job.pk == running_job.pk
    assert job.state == JobState.QUEUED and job.takeovers == 1


def test_retry_refuses_while_the_worker_is_alive(running_job, owner):
    now = timezone.now()
    Job.objects.filter(pk=running_job.pk).update(
        heartbeat_at=now, lease_expires_at=now + timedelta(seconds=60)
    )
    with pytest.raises(ValidationError, match="only a provision in ERROR"):
        services.retry_provision(owner, running_job.provision)


def test_delete_abandons_a_job_whose_worker_stopped_answering(running_job, owner):
    job = services.delete_provision(owner, running_job.provision)
    running_job.refresh_from_db()
    assert running_job.state == JobState.FAILED
    assert "stopped answering" in running_job.error
    assert job.kind == "delete" and job.state == JobState.QUEUED


def test_delete_still_refuses_while_the_worker_is_alive(running_job, owner):
    now = timezone.now()
    Job.objects.filter(pk=running_job.pk).update(
        heartbeat_at=now, lease_expires_at=now + timedelta(seconds=60)
    )
    with pytest.raises(ValidationError, match="already has a job running"):
        services.delete_provision(owner, running_job.provision)


def test_a_running_job_from_before_leases_gets_an_expiry_the_sweep_sees(cluster):
    from importlib import import_module

    from django.apps import apps

    job = cluster.jobs.get()
    started = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, started_at=started, lease_expires_at=None
    )
    import_module("provisions.migrations.0006_job_lease_expiry").give_expiry(apps, None)
    job.refresh_from_db()
    assert job.lease_expires_at == started + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    assert leases.sweep(Job, lambda job: None) == [job.pk]
