"""VM jobs under leases: every enqueued VM job is a VMJob row claimed once, renewed while it
runs, taken over by a sweep when its worker dies, and a deploy taken over half-way resumes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import leases
from jobs.states import JobState
from monitoring.models import WorkerHeartbeat
from portal import supervisor
from tests.lease_log import holders
from tests.local_http import fake_dns
from vms import jobs, lxc, services
from vms.models import VM, VMJob, VMLogLine

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_scripts(monkeypatch):
    """The scripts a host would run, instead of SSH (the image's host resolving publicly)."""
    fake_dns(monkeypatch, {"images.example": ["93.184.216.34"]})
    ran = []
    monkeypatch.setattr(lxc, "_run", lambda host, script, env, log=None: ran.append(script) or "")
    return ran


@pytest.fixture
def vm(template, owner):
    return services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])


def notes(vm_job):
    lines = VMLogLine.objects.filter(vm_id=vm_job.vm_id, message__startswith=f"job {vm_job.pk}: ")
    return list(lines.order_by("pk").values_list("message", flat=True))


def lost(vm_job, state="PROLOG"):
    """As a SIGKILLed worker leaves it: RUNNING under a lease that has run out."""
    past = timezone.now() - timedelta(seconds=120)
    VMJob.objects.filter(pk=vm_job.pk).update(
        state=JobState.RUNNING,
        lease_owner="dead:4242:abcdef",
        lease_expires_at=past,
        heartbeat_at=past,
        started_at=past,
    )
    VM.objects.filter(pk=vm_job.vm_id).update(state=state)
    vm_job.refresh_from_db()
    return vm_job


def test_instantiate_queues_a_leased_job_with_a_pick_up_deadline(vm):
    job = VMJob.objects.get(vm=vm)
    assert (job.action, job.state) == ("deploy", JobState.QUEUED)
    assert job.lease_expires_at > timezone.now()


def test_a_job_runs_once_under_its_lease_and_says_who_ran_it(vm, host_scripts):
    job = VMJob.objects.get(vm=vm)
    assert jobs.run_vm_job(vm.pk, "deploy", job.pk) == "running"
    assert jobs.run_vm_job(vm.pk, "deploy", job.pk).startswith("not claimed")
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS and job.finished_at is not None
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"
    assert host_scripts == ["vm-deploy.sh"]
    assert len(holders(notes(job))) == 1


def test_a_job_another_worker_holds_is_left_alone(vm, host_scripts):
    job = VMJob.objects.get(vm=vm)
    VMJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, lease_owner="alive:1:aa", lease_expires_at=timezone.now()
    )
    assert jobs.run_vm_job(vm.pk, "deploy", job.pk).startswith("not claimed")
    assert host_scripts == [] and VM.objects.get(pk=vm.pk).state == "PENDING"


def test_sweep_takes_over_a_lost_vm_job_once(vm):
    job = lost(VMJob.objects.get(vm=vm))
    enqueued = []
    assert leases.sweep(VMJob, enqueued.append) == [job.pk]
    assert leases.sweep(VMJob, enqueued.append) == []
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.takeovers == 1 and job.lease_owner == ""
    assert [j.pk for j in enqueued] == [job.pk]
    assert "worker dead:4242:abcdef lost" in notes(job)[-1]


@pytest.mark.parametrize("cut_short_in", ["PROLOG", "BOOT"])
def test_a_deploy_taken_over_half_way_resumes_to_running(vm, host_scripts, cut_short_in):
    job = lost(VMJob.objects.get(vm=vm), state=cut_short_in)
    leases.sweep(VMJob, lambda job: None)
    assert jobs.run_vm_job(vm.pk, "deploy", job.pk) == "running"
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS
    # The dead worker's claim was never noted here (made by hand above); the new one's was.
    assert len(holders(notes(job)[1:])) == 1
    log = vm.log.values_list("message", flat=True)
    assert any(f"resumed from {cut_short_in}" in message for message in log)


def test_without_a_job_a_deploy_still_starts_only_from_pending(vm, host_scripts):
    VM.objects.filter(pk=vm.pk).update(state="BOOT")
    assert jobs.run_vm_job(vm.pk, "deploy") == "not deployed: VM is BOOT"
    assert host_scripts == []


def test_a_worker_that_lost_its_lease_records_no_outcome(vm, host_scripts, monkeypatch):
    job = VMJob.objects.get(vm=vm)

    def taken_over_meanwhile(*args, **kwargs):
        VMJob.objects.filter(pk=job.pk).update(lease_owner="other:2:bb")
        raise leases.LeaseLost("lease lost")

    monkeypatch.setattr(jobs, "_run", taken_over_meanwhile)
    assert jobs.run_vm_job(vm.pk, "deploy", job.pk) == "lease lost"
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.lease_owner == "other:2:bb"


def test_actions_are_leased_jobs_too(vm, owner, host_scripts):
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    vm.refresh_from_db()
    services.act(owner, vm, "poweroff")
    job = VMJob.objects.get(vm=vm, action="poweroff")
    assert job.state == JobState.QUEUED
    assert jobs.run_vm_job(vm.pk, "poweroff", job.pk) == "POWEROFF"


def test_the_supervisor_sweeps_vm_jobs_too(vm, monkeypatch):
    monkeypatch.setattr(supervisor, "run_cycle", lambda: None)
    enqueued = []
    monkeypatch.setattr(supervisor, "enqueue_vm_job", enqueued.append)
    job = lost(VMJob.objects.get(vm=vm))
    supervisor.Supervisor().tick()
    assert [j.pk for j in enqueued] == [job.pk]


def test_the_supervisor_says_the_worker_is_alive():
    worker = supervisor.Supervisor()
    worker.beat()
    first = WorkerHeartbeat.objects.get(owner=worker.owner).seen_at
    worker.beat()
    beat = WorkerHeartbeat.objects.get(owner=worker.owner)
    assert beat.seen_at >= first and beat.started_at <= first
    assert timezone.now() - beat.seen_at < timedelta(seconds=10)
