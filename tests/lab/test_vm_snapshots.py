"""Snapshots of a VM on a real lab host: a file written, snapshotted, changed and deleted is
back with its checksum after a revert; a snapshot taken while the VM writes in a loop is a
clean filesystem (e2fsck) whose records run on without a gap, and the VM boots from it."""

import pytest

from tests.lab.helpers import in_vm, on_host
from vms import snapshots
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def small_disks(settings):
    settings.VM_DISK_MB_DEFAULT = 128


def test_revert_brings_back_what_the_snapshot_saw(small_disks, cluster_with_vms, owner):
    provision, (vm, _) = cluster_with_vms
    in_vm(vm, "head -c 5000000 /dev/urandom > /data && sync")
    before = in_vm(vm, "sha256sum /data").stdout.split()[0]

    snapshot = snapshots.create(owner, vm, "good")  # the job runs inline here (JOBS_SYNC)
    snapshot.refresh_from_db()
    assert snapshot.state == "READY", list(vm.log.values_list("message", flat=True))
    assert snapshot.freeze_ms is not None and snapshot.size_bytes > 5_000_000
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"

    in_vm(vm, "echo changed >> /data && rm -f /etc/motd && sync")
    assert in_vm(vm, "sha256sum /data").stdout.split()[0] != before
    snapshots.revert(owner, vm, "good")
    vm.refresh_from_db()
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    assert in_vm(vm, "sha256sum /data").stdout.split()[0] == before
    assert in_vm(vm, "test -e /etc/motd && echo back").stdout.strip() == "back"

    snapshots.delete(owner, vm, "good")
    assert not vm.snapshots.exists()
    listing = on_host(provision, vm.host, f'ls "$ONE_EDGE_BASE/lxc/{vm.container_name}/snapshots"')
    assert listing.strip() == ""


def test_a_snapshot_taken_during_writes_is_consistent(small_disks, cluster_with_vms, owner):
    provision, (vm, _) = cluster_with_vms
    writer = 'i=0; while :; do echo "record $i" >> /records; i=$((i+1)); done'
    in_vm(vm, f"nohup sh -c '{writer}' >/dev/null 2>&1 &")
    in_vm(vm, "sleep 1")
    snapshot = snapshots.create(owner, vm, "busy")
    snapshot.refresh_from_db()
    assert snapshot.state == "READY"
    # The copy on the host is a clean ext4 filesystem (read-only check of the image).
    image = f'"$ONE_EDGE_BASE/lxc/{vm.container_name}/snapshots/{snapshot.pk}.img"'
    checked = on_host(provision, vm.host, f"e2fsck -fn {image} >/dev/null 2>&1; echo fsck=$?")
    assert "fsck=0" in checked, checked

    snapshots.revert(owner, vm, "busy")  # stopped (the writer with it), restored, started
    vm.refresh_from_db()
    assert vm.state == "RUNNING"
    lines = in_vm(vm, "cat /records").stdout.splitlines()
    assert len(lines) > 10
    # Every record complete and in order, none missing: what the freeze caught is whole.
    assert lines == [f"record {n}" for n in range(len(lines))], lines[-3:]
