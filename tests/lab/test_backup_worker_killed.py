"""Real workers SIGKILLed (their whole process group) in the middle of a backup's upload and of
a VM's recovery onto another host: the job's lease expires, a new worker takes it over, and the
backup is listed READY once, with one restic snapshot for its job, and the recovered VM runs
once, with its data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backups import services as backups
from backups.models import VMBackup
from jobs.states import JobState
from monitoring.cycle import run_cycle
from provisions.models import Job
from tests.lab.conftest import lab_backup_store
from tests.lab.helpers import database_url, in_vm, kill_group, wait_until
from vms.models import VM, VMJob

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(lab_world, settings, tmp_path):
    """Start real worker processes (`manage.py worker`) on the test's database and lab."""
    started = []
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DIGITALOCEAN_API_URL": settings.DIGITALOCEAN_API_URL,
        "OUTBOUND_ALLOWED_NETWORKS": "198.18.0.1/32",
        "JOB_LEASE_SECONDS": "4",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "MONITOR_ENABLED": "false",
        "MONITOR_INTERVAL": "1",
        "PROVISION_POLL_INTERVAL": "0.1",
        "Q_WORKERS": "2",
        "Q_POLL": "0.2",
    }

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the test
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((worker, log))
        return worker

    yield start
    for worker, log in started:
        kill_group(worker.pid)
        worker.wait(timeout=10)
        log.close()


def restic_running(what: str) -> bool:
    """A restic process doing `what` (backup, restore) on a lab host (they share this
    machine's process table)."""
    found = subprocess.run(["pgrep", "-f", f"restic {what}"], capture_output=True, check=False)
    return found.returncode == 0


def kill(worker) -> None:
    kill_group(worker.pid)
    worker.wait(timeout=10)


def snapshots_of_job(store, taken: VMBackup, job: VMJob) -> list:
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": store.repository(taken.repository_key).replace(
            "198.18.0.1", "127.0.0.1"
        ),
        "RESTIC_PASSWORD": store.password(),
        "AWS_ACCESS_KEY_ID": store.access_key,
        "AWS_SECRET_ACCESS_KEY": store.secret(),
    }
    out = subprocess.run(
        ["restic", "snapshots", "--json", "--no-cache", "--tag", f"job-{job.pk}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.hosts(2)
def test_a_worker_killed_mid_upload_and_mid_recovery(
    cluster_with_vms, lab_world, object_store, owner, workers, settings
):
    settings.VM_DISK_MB_DEFAULT = 512
    settings.HOST_RECOVERY_CYCLES = 2
    provision, (vm, other) = cluster_with_vms
    store = lab_backup_store(owner, object_store)
    # Enough to upload for a while: random data does not compress or deduplicate.
    in_vm(vm, "head -c 150000000 /dev/urandom > /data && sync", timeout=120)
    checksum = in_vm(vm, "sha256sum /data", timeout=60).stdout.split()[0]
    settings.JOBS_SYNC = False  # from here the jobs go to the broker, for the real workers

    first = workers("first")
    taken = backups.backup(owner, vm)
    job = VMJob.objects.get(vm=vm, action="backup")
    wait_until(lambda: restic_running("backup"), 60, "the upload to be under way")
    kill(first)
    taken.refresh_from_db()
    assert taken.state == "CREATING", "the backup finished before the worker was killed"
    assert not vm.backups.filter(state="READY").exists()  # never listed half-written

    second = workers("second")
    wait_until(
        lambda: VMJob.objects.filter(
            pk=job.pk, state__in=[JobState.SUCCESS, JobState.FAILED]
        ).exists(),
        240,
        "the backup job to be taken over and end",
    )
    job.refresh_from_db()
    taken.refresh_from_db()
    assert job.state == JobState.SUCCESS and job.takeovers >= 1, job.error
    assert taken.state == "READY", taken.error
    assert vm.backups.count() == 1
    assert len(snapshots_of_job(store, taken, job)) == 1  # one snapshot: never uploaded twice

    # The VM's host lost for good (its sshd killed): fenced, the VM restored elsewhere; the
    # worker running that is killed while it fetches the backup.
    lab_world["sim"].server.lab_hosts.kill_sshd(vm.host.droplet_id)
    for _ in range(8):
        run_cycle()
        if Job.objects.filter(kind="fence").exists():
            break
    assert Job.objects.filter(kind="fence").exists(), "the lost host was never fenced"
    wait_until(lambda: restic_running("restore"), 120, "the backup to be fetched")
    kill(second)  # the only worker: the one running the recovery's deploy
    workers("third")
    wait_until(
        lambda: VM.objects.filter(pk=vm.pk, state__in=["RUNNING", "FAILURE"]).exists(),
        300,
        "the recovered VM to run",
    )
    moved = VM.objects.get(pk=vm.pk)
    assert moved.state == "RUNNING", moved.failure_reason
    assert moved.host_id == other.host_id
    assert VM.objects.filter(owner=owner, name=vm.name).count() == 1
    assert in_vm(moved, "sha256sum /data", timeout=60).stdout.split()[0] == checksum
    deploy = VMJob.objects.filter(vm=vm, action="deploy").latest("id")
    assert deploy.state == JobState.SUCCESS and deploy.takeovers >= 1, deploy.error
    assert Job.objects.filter(kind="fence", state="SUCCESS").count() == 1
