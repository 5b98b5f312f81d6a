"""Backups of a VM on real lab hosts to the lab's S3 server with restic: a file written is back
with its checksum after a restore in place and in a VM restored as a new one; the backup is
listed with its size and duration, and its secrets never reach a command line."""

import pytest

from backups import services as backups
from backups.models import PendingRestore
from tests.lab.conftest import lab_backup_store
from tests.lab.helpers import in_vm
from vms import services as vm_services
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def small_disks(settings):
    settings.VM_DISK_MB_DEFAULT = 128


def checksum(vm) -> str:
    return in_vm(vm, "sha256sum /data").stdout.split()[0]


@pytest.mark.hosts(2)
def test_backup_then_restore_in_place_and_as_a_new_vm(
    small_disks, cluster_with_vms, object_store, owner, capsys
):
    from cli import onevm

    provision, (vm, _) = cluster_with_vms
    lab_backup_store(owner, object_store)
    in_vm(vm, "head -c 8000000 /dev/urandom > /data && sync")
    written = checksum(vm)

    assert onevm.main(["backup", vm.name]) == 0  # the job runs inline here (JOBS_SYNC)
    taken = vm.backups.get()
    assert taken.state == "READY", taken.error or list(vm.log.values_list("message", flat=True))
    assert len(taken.snapshot_id) == 64
    assert taken.uploaded_bytes > 8_000_000 and taken.freeze_ms is not None
    assert taken.duration_s > 0
    assert taken.manifest["nics"][0]["first_port"] == 9001
    capsys.readouterr()
    assert onevm.main(["backup-list", vm.name]) == 0
    listing = capsys.readouterr().out
    assert taken.short_id in listing and "READY" in listing, listing
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"

    # The second backup uploads only the chunks that changed (restic's are about 1 MB).
    in_vm(vm, "echo more >> /etc/motd && sync")
    second = backups.backup(owner, vm)
    second.refresh_from_db()
    assert second.state == "READY", second.error
    assert second.uploaded_bytes < taken.uploaded_bytes / 2, second.uploaded_bytes

    in_vm(vm, "rm /data && sync")
    backups.restore(owner, vm, taken.short_id)
    vm.refresh_from_db()
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    assert checksum(vm) == written
    assert any("VERIFIED" in m for m in vm.log.values_list("message", flat=True))

    copy = backups.restore_as(owner, vm, taken.pk, "restored")
    copy.refresh_from_db()
    assert copy.state == "RUNNING", list(copy.log.values_list("message", flat=True))
    assert checksum(copy) == written
    assert not PendingRestore.objects.filter(vm=copy).exists()
    # A VM of its own: its own port block and container, the original untouched.
    assert copy.container_name != vm.container_name
    assert checksum(vm) == written

    # A powered-off VM is backed up too (nothing to freeze), and a schedule's retention has
    # restic forget and prune what it does not keep: of the day's backups, the newest.
    vm_services.act(owner, vm, "poweroff")
    vm.refresh_from_db()
    assert vm.state == "POWEROFF"
    kept = backups.backup(owner, vm, scheduled=True, keep="--keep-daily 1")
    kept.refresh_from_db()
    assert kept.state == "READY", kept.error
    assert list(vm.backups.values_list("pk", flat=True)) == [kept.pk]
    assert any("1 backup(s) kept, 2 pruned" in m for m in vm.log.values_list("message", flat=True))
    vm_services.act(owner, vm, "resume")
    backups.restore(owner, vm, kept.pk)  # the newest backup restores too
    vm.refresh_from_db()
    assert vm.state == "RUNNING" and checksum(vm) == written


def test_a_wrong_secret_or_an_unreachable_store_keeps_nothing(object_store, owner, settings):
    from django.core.exceptions import ValidationError

    from backups import stores
    from backups.models import BackupStore

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    good = {
        "name": "s",
        "endpoint": object_store.local_url,
        "region": "us-east-1",
        "bucket": object_store.bucket,
        "access_key": object_store.access_key,
        "secret_key": object_store.secret_key,
    }
    for change, field in (
        ({"secret_key": "wrong"}, "secret_key"),
        ({"access_key": "AKIAWRONG"}, "access_key"),
        ({"bucket": "no-such-bucket"}, "bucket"),
        ({"endpoint": "http://127.0.0.1:9"}, "endpoint"),
    ):
        with pytest.raises(ValidationError) as refused:
            stores.create(owner, {**good, **change})
        assert field in refused.value.message_dict, (change, refused.value.message_dict)
    assert not BackupStore.objects.exists()
    store = stores.create(owner, good)
    assert store.secret() == object_store.secret_key
    assert object_store.secret_key not in store.secret_encrypted
