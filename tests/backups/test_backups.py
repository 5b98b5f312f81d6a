"""Backups and restores without the lab: what may be started, the jobs' records (READY only
once restic wrote the snapshot, a job run again makes no second one), tenancy on every face,
and the repository's secrets kept off the host's command line."""

import json
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups import hostside, runs, services
from backups.models import PendingRestore, VMBackup
from hostexec.ssh import CommandResult, script_command
from vms import jobs, lxc
from vms.models import VM, VMJob

from .conftest import make_store

pytestmark = pytest.mark.django_db

SUMMARY = {"data_added": 5_000_000, "total_bytes_processed": 1_073_741_824}
SNAPSHOT = "c0ffee" + "0" * 58


@pytest.fixture
def host(monkeypatch):
    """vm-backup.sh's side, faked: the scripts and environments it was given."""
    calls = []

    class Session:
        def run_script(self, script, env, timeout=None):
            calls.append({"script": script, **env})
            if env["ACTION"] == "backup":
                out = f"FROZEN 85\nSUMMARY {json.dumps(SUMMARY)}\nSNAPSHOT {SNAPSHOT}\n"
            elif env["ACTION"] == "restore" and env["MODE"] == "stage":
                out = f"VERIFIED 1 files\nSTAGED /var/lib/one-edge/lxc/.restored-{env['VM']}.img\n"
            else:
                out = "VERIFIED 1 files\nRESTORED\n"
            return CommandResult(0, out, "")

    @contextmanager
    def connected(host, script, wait):
        yield Session()

    monkeypatch.setattr(lxc, "connected", connected)
    return calls


def run_jobs(vm):
    for job in VMJob.objects.filter(vm=vm, state="QUEUED").order_by("id"):
        jobs.run_vm_job(vm.pk, job.action, job.pk)


def test_a_backup_needs_a_store_and_says_how_to_get_one(vm, owner):
    with pytest.raises(Exception, match="onebackupstore create"):
        services.backup(owner, vm)
    assert not VMBackup.objects.exists() and not vm.jobs.filter(action="backup").exists()


def test_a_backup_is_ready_once_its_job_uploaded_it(vm, owner, store, host):
    taken = services.backup(owner, vm)
    assert taken.state == "CREATING" and taken.store == store
    assert taken.manifest["nics"][0]["first_port"] == 9001
    with pytest.raises(Exception, match="no complete backup"):
        services.backup_of(vm, taken.pk)  # not restorable while CREATING
    run_jobs(vm)
    taken.refresh_from_db()
    assert taken.state == "READY" and taken.snapshot_id == SNAPSHOT
    assert (taken.uploaded_bytes, taken.disk_bytes, taken.freeze_ms) == (5_000_000, 2**30, 85)
    assert services.backup_of(vm, "c0ffee00") == taken
    env = host[0]
    assert env["TAG"] == f"job-{vm.jobs.get(action='backup').pk}"
    assert json.loads(env["MANIFEST"])["name"] == "web"
    # The repository's secrets are in the script's text, never in the command sshd runs.
    assert "the-secret-key-1234" in env["script"] and "restic-password" in env["script"]
    command = script_command({k: v for k, v in env.items() if k != "script"})
    assert "the-secret-key-1234" not in command and "restic-password" not in command
    # Its job run again (taken over) finds the backup finished and makes no other.
    job = vm.jobs.get(action="backup")
    assert runs.run_backup(vm, job, None, log=print).startswith("nothing to do")
    assert len(host) == 1


def test_a_failed_backup_is_never_listed_as_restorable(vm, owner, store, monkeypatch):
    def refused(*args, **kwargs):
        raise hostside.BackupError("vm-backup.sh on dc-host-0: ERROR restic backup: 403")

    monkeypatch.setattr(hostside, "run", refused)
    taken = services.backup(owner, vm)
    run_jobs(vm)
    taken.refresh_from_db()
    assert taken.state == "FAILED" and "403" in taken.error
    assert vm.jobs.get(action="backup").state == "FAILED"
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"  # a failed backup fails no VM
    with pytest.raises(Exception, match="no complete backup"):
        services.restore(owner, vm, taken.pk)


def test_the_provider_store_comes_before_the_owner_default(vm, owner, store):
    bound = make_store(owner, "for-do", provider=vm.host.provision.provider)
    assert services.store_for(vm) == bound
    bound.delete()
    assert services.store_for(vm) == store


def test_restore_in_place_and_as_a_new_vm(vm, owner, store, host):
    taken = services.backup(owner, vm)
    run_jobs(vm)
    services.restore(owner, vm, taken.pk)
    run_jobs(vm)
    assert host[-1]["MODE"] == "in-place" and host[-1]["START"] == 1
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"

    taken.refresh_from_db()
    copy = services.restore_as(owner, vm, taken.short_id, "web-copy")
    assert PendingRestore.objects.get(vm=copy).backup == taken
    assert copy.host is not None and copy.disk_mb == taken.disk_mb
    staged = runs.restored_disk(copy, log=print)
    assert staged == f"/var/lib/one-edge/lxc/.restored-{copy.container_name}.img"
    assert host[-1]["MODE"] == "stage" and host[-1]["SNAPSHOT"] == SNAPSHOT
    runs.restore_done(copy)
    assert not PendingRestore.objects.filter(vm=copy).exists()
    with pytest.raises(Exception, match="already have a VM named"):
        services.restore_as(owner, vm, taken.pk, "web-copy")


def test_another_tenant_sees_nothing(vm, owner, store, host, outsider_api, api):
    taken = services.backup(owner, vm)
    run_jobs(vm)
    for method, url in (
        ("get", f"/api/vms/{vm.pk}/backups/"),
        ("post", f"/api/vms/{vm.pk}/backups/"),
        ("delete", f"/api/vms/{vm.pk}/backups/{taken.pk}/"),
        ("post", f"/api/vms/{vm.pk}/restore/"),
        ("get", f"/api/backupstores/{store.pk}/"),
        ("post", f"/api/backupstores/{store.pk}/check/"),
        ("delete", f"/api/backupstores/{store.pk}/"),
    ):
        answer = getattr(outsider_api, method)(url, {"backup": taken.pk}, format="json")
        assert answer.status_code == 404, (method, url, answer.status_code)
    assert outsider_api.get("/api/backupstores/").json()["count"] == 0
    assert VMBackup.objects.filter(state="READY").count() == 1
    assert api.get(f"/api/vms/{vm.pk}/backups/").json()[0]["snapshot"] == SNAPSHOT[:8]


def test_the_backup_list_costs_the_same_queries_for_many_backups(vm, owner, store, api):
    def queries():
        with CaptureQueriesContext(connection) as seen:
            assert api.get(f"/api/vms/{vm.pk}/backups/").status_code == 200
        return len(seen)

    VMBackup.objects.create(vm=vm, store=store, repository_key="k", state="READY")
    queries()  # the first request of a token also records its use
    one = queries()
    for _ in range(10):
        VMBackup.objects.create(vm=vm, store=store, repository_key="k", state="READY")
    assert queries() == one


def test_a_store_holding_backups_is_not_deleted(vm, owner, store, host, api):
    services.backup(owner, vm)
    answer = api.delete(f"/api/backupstores/{store.pk}/")
    assert answer.status_code == 400 and "holds 1 backup" in answer.content.decode()


def test_a_restore_into_a_cluster_without_the_image_says_what_to_do(
    vm, owner, store, host, sim_free_second_cluster
):
    taken = services.backup(owner, vm)
    run_jobs(vm)
    with pytest.raises(Exception, match="export its app to that cluster first"):
        services.restore_as(owner, vm, taken.pk, "elsewhere", "edge2")
    assert not VM.objects.filter(name="elsewhere").exists()


@pytest.fixture
def sim_free_second_cluster(owner):
    """A second RUNNING cluster 'edge2' of the owner, without the VM's image."""
    from provisions import services as provisions
    from provisions.models import Provision
    from tests.factories import make_provider

    provision = provisions.create_provision(
        owner, provider=make_provider(owner, name="do2"), name="edge2", host_count=1
    )
    Provision.objects.filter(pk=provision.pk).update(state="RUNNING")
    provision.hosts.update(state="RUNNING", cpu=2, memory_mb=2048, public_ip="127.18.0.10")
    return provision
