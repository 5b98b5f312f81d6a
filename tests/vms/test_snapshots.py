"""VM snapshots without the lab: what may be taken, reverted and deleted, the jobs' records
(a snapshot is listed READY only once its copy is whole), and the API, page and CLI faces."""

import pytest
from django.core.exceptions import ValidationError

from hostexec.ssh import CommandFailed, CommandResult
from monitoring.models import VMSample
from vms import jobs, lxc, services, snapshots
from vms.models import VM, VMJob, VMSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def vm(template, owner, cluster):
    made = services.instantiate(owner, "Alpine", name="s", nics=["dc-public"])
    VM.objects.filter(pk=made.pk).update(state="RUNNING", disk_mb=1024)
    made.jobs.update(state="DONE")
    used(made, 30)
    return VM.objects.get(pk=made.pk)


def used(vm, disk_used_mb):
    """Monitoring's reading of the VM's disk: what a new snapshot is expected to take."""
    VMSample.objects.create(
        vm=vm, at=vm.created_at, cpu_seconds=0, memory_mb=1, net_rx_bytes=0, net_tx_bytes=0,
        disk_used_mb=disk_used_mb,
    )  # fmt: skip


@pytest.fixture
def host(monkeypatch):
    """The host script's side, faked: what it was asked, and a snapshot copy of 30 MB that
    kept the VM frozen 120 ms."""
    calls = []

    def run(host, script, env, log=None):
        calls.append(env)
        if env["ACTION"] == "create":
            return "FROZEN 120\nSIZE 31457280\n"
        return f"{env['ACTION'].upper()}D\n"

    monkeypatch.setattr(lxc, "_run", run)
    return calls


def run_jobs(vm):
    for job in VMJob.objects.filter(vm=vm, state="QUEUED").order_by("id"):
        jobs.run_vm_job(vm.pk, job.action, job.pk)


def test_a_snapshot_is_listed_ready_once_its_job_copied_it(vm, owner, host):
    snapshot = snapshots.create(owner, vm, "before-upgrade")
    assert snapshot.state == "CREATING" and snapshot.disk_mb == 1024
    run_jobs(vm)
    snapshot.refresh_from_db()
    assert (snapshot.state, snapshot.size_bytes, snapshot.freeze_ms) == ("READY", 30 * 2**20, 120)
    assert host == [{"VM": vm.container_name, "ACTION": "create", "SNAP": snapshot.pk}]
    log = "\n".join(vm.log.values_list("message", flat=True))
    assert "snapshot before-upgrade taken: 30.0 MB, the VM frozen 120 ms" in log
    assert snapshots.create(owner, vm).name.startswith("snap-")


def test_revert_stops_restores_and_starts_a_running_vm(vm, owner, host):
    snapshot = snapshots.create(owner, vm, "good")
    run_jobs(vm)
    VM.objects.filter(pk=vm.pk).update(disk_mb=4096)  # grown since: the revert gives 1024 back
    snapshots.revert(owner, vm, "good")
    run_jobs(vm)
    assert host[-1] == {
        "VM": vm.container_name,
        "ACTION": "revert",
        "SNAP": snapshot.pk,
        "START": 1,
    }
    vm.refresh_from_db()
    assert (vm.state, vm.disk_mb) == ("RUNNING", 1024)


def test_a_powered_off_vm_stays_off_after_a_revert(vm, owner, host):
    snapshots.create(owner, vm, "good")
    run_jobs(vm)
    VM.objects.filter(pk=vm.pk).update(state="POWEROFF")
    snapshots.revert(owner, vm, "good")
    run_jobs(vm)
    assert host[-1]["START"] == 0
    assert VM.objects.get(pk=vm.pk).state == "POWEROFF"


def test_delete_removes_it_from_the_host_then_the_list(vm, owner, host):
    snapshot = snapshots.create(owner, vm, "old")
    run_jobs(vm)
    snapshots.delete(owner, vm, str(snapshot.pk))
    assert VMSnapshot.objects.get(pk=snapshot.pk).state == "DELETING"
    run_jobs(vm)
    assert host[-1]["ACTION"] == "delete" and not VMSnapshot.objects.exists()


def test_a_failed_copy_is_not_kept_and_the_vm_does_not_fail(vm, owner, monkeypatch):
    def broken(host, script, env, log=None):
        raise lxc.LXCError("vm-snapshot.sh on dc-host-0: exited with status 1: cp: No space")

    monkeypatch.setattr(lxc, "_run", broken)
    snapshots.create(owner, vm, "doomed")
    run_jobs(vm)
    assert not VMSnapshot.objects.exists()
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"
    assert VMJob.objects.get(action="snapshot-create").state == "FAILED"
    log = "\n".join(vm.log.values_list("message", flat=True))
    assert "snapshot-create failed: vm-snapshot.sh on dc-host-0" in log


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "PENDING"}, "is PENDING: snapshots need it RUNNING or POWEROFF"),
        ({"disk_mb": None}, "no disk of its own"),
    ],
)
def test_snapshots_are_refused_for_vms_that_cannot_have_them(vm, owner, host, change, message):
    VM.objects.filter(pk=vm.pk).update(**change)
    with pytest.raises(ValidationError, match=message):
        snapshots.create(owner, vm, "x")
    assert not VMSnapshot.objects.exists() and host == []


def test_refused_while_a_job_works_on_the_vm_or_by_name(vm, owner, host):
    snapshots.create(owner, vm, "one")
    with pytest.raises(ValidationError, match="has a job running"):
        snapshots.create(owner, vm, "two")
    run_jobs(vm)
    with pytest.raises(ValidationError, match="already has a snapshot named 'one'"):
        snapshots.create(owner, vm, "one")
    with pytest.raises(ValidationError, match="not a valid snapshot name"):
        snapshots.create(owner, vm, "a b;c")
    with pytest.raises(ValidationError, match="snapshot 'nope' not found"):
        snapshots.revert(owner, vm, "nope")
    assert VMSnapshot.objects.count() == 1


def test_snapshots_may_take_at_most_the_disks_size(vm, owner, host, settings):
    # Monitoring read 700 MB on the 1024 MB disk: one snapshot fits, a second does not.
    VMSample.objects.all().delete()
    used(vm, 700)
    first = snapshots.create(owner, vm, "a")
    run_jobs(vm)
    VMSnapshot.objects.filter(pk=first.pk).update(size_bytes=700 * 2**20)
    with pytest.raises(ValidationError, match="take 700 MB and this one needs about 700 MB"):
        snapshots.create(owner, vm, "b")
    settings.VM_SNAPSHOTS_MAX = 1
    with pytest.raises(ValidationError, match="has 1 snapshots, the most it may have"):
        snapshots.create(owner, vm, "c")


def test_snapshots_end_with_their_vm(vm, owner, host):
    snapshots.create(owner, vm, "a")
    run_jobs(vm)
    services.release(vm, "terminated")
    assert not VMSnapshot.objects.exists()


def test_the_api_lists_takes_reverts_and_deletes(vm, api, outsider_api, host):
    url = f"/api/vms/{vm.pk}/snapshots/"
    assert outsider_api.get(url).status_code == 404
    assert outsider_api.post(url, {"name": "x"}, format="json").status_code == 404
    response = api.post(url, {"name": "first"}, format="json")
    assert response.status_code == 202 and response.json()["state"] == "CREATING"
    run_jobs(vm)
    listed = api.get(url).json()
    assert [(s["name"], s["state"], s["freeze_ms"]) for s in listed] == [("first", "READY", 120)]
    sid = listed[0]["id"]
    assert outsider_api.post(f"{url}{sid}/revert/").status_code == 404
    assert api.post(f"{url}{sid}/revert/").status_code == 202
    run_jobs(vm)
    assert api.post(f"{url}999/revert/").status_code == 400
    assert api.delete(f"{url}{sid}/").status_code == 202
    run_jobs(vm)
    assert api.get(url).json() == []


def test_the_page_takes_and_reverts_with_messages(vm, client, owner, outsider, host):
    client.force_login(owner)
    page = client.post(f"/vms/{vm.pk}/snapshots/", {"name": "p1"}, follow=True)
    assert "Snapshot p1 is being taken" in page.content.decode()
    run_jobs(vm)
    html = client.get(f"/vms/{vm.pk}/").content.decode()
    assert "p1" in html and "120 ms" in html and "Revert" in html
    sid = VMSnapshot.objects.get().pk
    page = client.post(f"/vms/{vm.pk}/snapshots/{sid}/revert/", follow=True)
    assert "Reverting to snapshot p1" in page.content.decode()
    page = client.post(f"/vms/{vm.pk}/snapshots/", {"name": "p1"}, follow=True)
    assert "has a job running" in page.content.decode()
    client.force_login(outsider)
    assert client.post(f"/vms/{vm.pk}/snapshots/{sid}/delete/").status_code == 404


def test_a_lost_host_is_an_error_of_the_job_not_of_the_vm(vm, owner, monkeypatch):
    def unreachable(host, script, env, log=None):
        raise lxc.LXCError(
            str(CommandFailed("bash script", CommandResult(4, "", "ERROR snapshot 9 is gone")))
        )

    monkeypatch.setattr(lxc, "_run", unreachable)
    snapshot = snapshots.create(owner, vm, "a")
    VMSnapshot.objects.filter(pk=snapshot.pk).update(state="READY")
    VMJob.objects.filter(vm=vm).update(state="DONE")
    snapshots.delete(owner, vm, "a")
    run_jobs(vm)
    assert VMSnapshot.objects.get(pk=snapshot.pk).state == "READY"  # listed again
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"
