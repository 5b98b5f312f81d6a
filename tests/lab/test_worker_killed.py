"""Real workers killed with SIGKILL in the middle of a deploy (the whole process group: the
cluster, its sentinel and the worker running the job, as the OOM killer or a reboot would):
the job's lease expires, a worker takes the job over and resumes it from the ledger, and the
provision reaches RUNNING with no user action and no duplicate droplet."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from jobs.states import JobState
from lab.docsim import start_in_thread
from provisions import services
from provisions.choices import HostState, ProvisionState
from provisions.models import Job
from tests.factories import make_provider
from tests.lab.helpers import (
    assert_exactly_the_requested_droplets,
    database_url,
    kill_group,
    wait_until,
)

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
MID_DEPLOY = {"droplets", "wait_active", "firewall", "configure_hosts"}


@pytest.fixture
def world(lab_hosts, settings, tmp_path):
    with start_in_thread(port=0, boot_delay=0.5, lab_hosts=lab_hosts, vpc_member_linger=1.0) as sim:
        settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
        settings.JOBS_SYNC = False  # the jobs go to the broker, for the real workers
        workers = []
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DIGITALOCEAN_API_URL": sim.url + "/v2/",
            "JOB_LEASE_SECONDS": "4",
            "JOB_HEARTBEAT_SECONDS": "0.5",
            "MONITOR_ENABLED": "false",
            "MONITOR_INTERVAL": "1",
            "PROVISION_POLL_INTERVAL": "0.1",
            "PROVISION_SSH_WAIT": "20",
            "Q_WORKERS": "2",
            "Q_POLL": "0.2",
        }

        def start_worker(name: str, **more_env) -> subprocess.Popen:
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the test
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "worker"],
                cwd=ROOT,
                env={**env, **more_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            workers.append((worker, log))
            return worker

        yield {"sim": sim, "start_worker": start_worker, "tmp": tmp_path, "lab": lab_hosts}
        for worker, log in workers:
            kill_group(worker.pid)
            worker.wait(timeout=10)
            log.close()


def mid_deploy(provision) -> Job | None:
    job = Job.objects.filter(provision=provision).first()
    if job and job.state == JobState.RUNNING and job.step in MID_DEPLOY and job.lease_owner:
        return job
    return None


def settle(provision) -> None:
    """Wait for the provision to reach RUNNING or ERROR, and read it again."""
    wait_until(
        lambda: provision.__class__.objects.filter(
            pk=provision.pk, state__in=[ProvisionState.RUNNING, ProvisionState.ERROR]
        ).exists(),
        120,
        "the provision to settle",
    )
    provision.refresh_from_db()


def logs(world) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(world["tmp"].glob("*.log")))


def test_sigkilled_worker_mid_deploy_is_taken_over_by_a_new_worker(world, owner):
    provider = make_provider(owner, name="lab", token="lab-token")
    first = world["start_worker"]("first")
    provision = services.create_provision(owner, provider=provider, name="crash", host_count=4)
    job = wait_until(lambda: mid_deploy(provision), 60, "the deploy to be under way")
    kill_group(first.pid)
    first.wait(timeout=10)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING, "the job finished before the worker was killed"
    killed_at_step = job.step

    world["start_worker"]("second")  # nobody retries: the new worker finds the lost job
    settle(provision)
    assert provision.state == ProvisionState.RUNNING, f"{provision.error}\n{logs(world)}"
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS and job.takeovers >= 1
    assert any("taken over" in line for line in job.lines.values_list("message", flat=True))
    assert Job.objects.filter(provision=provision).count() == 1, "no user action, no new job"
    assert_exactly_the_requested_droplets(world["sim"], provision, 4)
    assert killed_at_step in MID_DEPLOY


@pytest.mark.postgres
def test_two_workers_on_postgresql_one_killed_the_other_finishes(world, owner):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: CI's PostgreSQL pass runs it (DATABASE_URL)")
    provider = make_provider(owner, name="lab", token="lab-token")
    workers = [world["start_worker"]("a"), world["start_worker"]("b")]
    provision = services.create_provision(owner, provider=provider, name="pair", host_count=3)
    job = wait_until(lambda: mid_deploy(provision), 60, "the deploy to be under way")
    holder_pid = int(job.lease_owner.split(":")[1])
    victim = next(w for w in workers if os.getpgid(holder_pid) == w.pid)
    survivor = next(w for w in workers if w is not victim)
    kill_group(victim.pid)
    victim.wait(timeout=10)

    settle(provision)
    assert provision.state == ProvisionState.RUNNING, f"{provision.error}\n{logs(world)}"
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS and job.takeovers >= 1
    new_holder = int(job.lease_owner.split(":")[1]) if job.lease_owner else None
    if new_holder is not None:
        assert os.getpgid(new_holder) == survivor.pid
    assert survivor.poll() is None
    assert_exactly_the_requested_droplets(world["sim"], provision, 3)


def test_the_worker_monitors_hosts_by_itself(world, owner):
    """No test calls the cycle here: the worker's own loop finds the dead sshd and the return."""
    provider = make_provider(owner, name="lab", token="lab-token")
    world["start_worker"]("monitor", MONITOR_ENABLED="true", MONITOR_HOST_FAILURES="2")
    provision = services.create_provision(owner, provider=provider, name="watched")
    wait_until(
        lambda: provision.__class__.objects.get(pk=provision.pk).state == ProvisionState.RUNNING,
        60,
        "the provision to run",
    )
    host = provision.hosts.get()
    wait_until(lambda: host.__class__.objects.get(pk=host.pk).monitored_at, 15, "a first probe")
    world["lab"].kill_sshd(host.droplet_id)
    wait_until(
        lambda: host.__class__.objects.get(pk=host.pk).state == HostState.ERROR,
        30,
        f"the host to be ERROR\n{logs(world)}",
    )
    world["lab"].start_sshd(host.droplet_id)
    wait_until(
        lambda: host.__class__.objects.get(pk=host.pk).state == HostState.RUNNING,
        30,
        "the host to be RUNNING again",
    )
    assert [(e.source, e.to_state) for e in host.events.all()] == [
        ("job", HostState.CONFIGURING),
        ("job", HostState.RUNNING),
        ("monitor", HostState.ERROR),
        ("monitor", HostState.RUNNING),
    ]
