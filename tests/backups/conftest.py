import pytest
from django.utils import timezone

from backups.models import BackupStore
from core import crypto
from vms import services
from vms.models import VM


@pytest.fixture
def vm(template, owner, cluster):
    made = services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=made.pk).update(state="RUNNING", disk_mb=1024)
    made.jobs.update(state="DONE")
    return VM.objects.get(pk=made.pk)


def make_store(owner, name="spaces", provider=None) -> BackupStore:
    """A store as if set up and checked (no object store behind it)."""
    return BackupStore.objects.create(
        owner=owner,
        name=name,
        provider=provider,
        endpoint="https://fra1.digitaloceanspaces.com",
        region="fra1",
        bucket="edge-backups",
        access_key="DO00ACCESSKEY",
        secret_encrypted=crypto.encrypt("the-secret-key-1234"),
        secret_hint=crypto.mask("the-secret-key-1234"),
        password_encrypted=crypto.encrypt("restic-password"),
        checked_at=timezone.now(),
    )


@pytest.fixture
def store(owner):
    return make_store(owner)
