"""Backup stores against a real S3 API server (moto's, authenticating): kept only once the
bucket was written to and read back; each wrong input named, nothing kept; the secret key
encrypted and never shown again, in the API or the CLI."""

import pytest
from django.core.exceptions import ValidationError

from backups import stores
from backups.models import BackupStore
from lab.objectstore import ObjectStore

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3():
    with ObjectStore(host="127.0.0.1") as server:
        yield server


@pytest.fixture
def given(s3, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return {
        "name": "spaces",
        "endpoint": s3.local_url,
        "region": "us-east-1",
        "bucket": s3.bucket,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"secret_key": "wrong"}, "secret_key"),
        ({"access_key": "AKIAWRONG"}, "access_key"),
        ({"bucket": "no-such-bucket"}, "bucket"),
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"endpoint": "http://127.0.0.1:9"}, "endpoint"),
        ({"endpoint": "ftp://127.0.0.1"}, "endpoint"),
        ({"region": ""}, "region"),
        ({"name": ""}, "name"),
    ],
)
def test_a_store_that_fails_its_check_is_refused_and_not_kept(given, owner, change, field):
    with pytest.raises(ValidationError) as refused:
        stores.create(owner, {**given, **change})
    assert field in refused.value.message_dict, refused.value.message_dict
    assert not BackupStore.objects.exists()


def test_an_endpoint_the_outbound_guard_refuses_is_never_contacted(given, owner, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # 127.0.0.1 is loopback: refused
    with pytest.raises(ValidationError) as refused:
        stores.create(owner, given)
    assert "address not allowed" in str(refused.value.message_dict["endpoint"])


def test_a_checked_store_keeps_its_secret_encrypted(given, owner, s3):
    store = stores.create(owner, given)
    assert store.secret() == s3.secret_key
    assert s3.secret_key not in store.secret_encrypted
    assert len(store.password()) >= 32  # restic's repository password, the portal's own
    assert stores.check(owner, store).checked_at >= store.created_at
    with pytest.raises(ValidationError) as twice:
        stores.create(owner, given)
    assert "name" in twice.value.message_dict
    with pytest.raises(ValidationError) as second_default:
        stores.create(owner, {**given, "name": "other"})
    assert "provider" in second_default.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_the_api_and_cli_never_show_the_secret(given, owner, api, s3, cli_env, capsys, monkeypatch):
    from cli import onebackupstore

    created = api.post("/api/backupstores/", given, format="json")
    assert created.status_code == 201, created.content
    shown = api.get(f"/api/backupstores/{created.json()['id']}/")
    assert s3.secret_key not in shown.content.decode()
    assert shown.json()["secret_hint"].startswith("****")
    monkeypatch.setenv("EDGE_BACKUP_SECRET_KEY", s3.secret_key)
    args = ["create", "cli", "--endpoint", given["endpoint"], "--region", "us-east-1"]
    args += ["--bucket", s3.bucket, "--access-key", s3.access_key]
    # The owner has a default store (the API's): a second is refused, the reason printed.
    assert onebackupstore.main(args) == 1
    assert "default backup store" in capsys.readouterr().err
    assert onebackupstore.main(["show", "spaces"]) == 0
    out = capsys.readouterr().out
    assert s3.access_key in out and s3.secret_key not in out
    assert onebackupstore.main(["delete", "spaces"]) == 0
    assert not BackupStore.objects.exists()


def test_deleting_all_of_a_vms_backups_empties_its_repository(given, owner, s3, vm, api):
    from backups import services
    from backups.models import VMBackup
    from lab.objectstore import client

    store = stores.create(owner, given)
    bucket = client("s3", s3.local_url, s3.access_key, s3.secret_key)
    for name in ("config", "data/ab/abcd", "snapshots/ef01", "keys/k"):
        bucket.put_object(Bucket=s3.bucket, Key=f"edge-portal/vm-9-1/{name}", Body=b"x")
    bucket.put_object(Bucket=s3.bucket, Key="edge-portal/vm-10-1/config", Body=b"other VM")
    for n in range(2):
        VMBackup.objects.create(
            vm=vm, store=store, repository_key="vm-9-1", state="READY", snapshot_id=f"{n}" * 64
        )
    VM = type(vm)
    VM.objects.filter(pk=vm.pk).update(state="DONE")  # ended: its backups outlive it
    answer = api.delete(f"/api/vms/{vm.pk}/backups/")
    assert answer.status_code == 200 and answer.json() == {"deleted": 2}
    left = bucket.list_objects_v2(Bucket=s3.bucket, Prefix="edge-portal/")["Contents"]
    assert [o["Key"] for o in left] == ["edge-portal/vm-10-1/config"]
    assert not VMBackup.objects.exists()
    with pytest.raises(ValidationError):  # a store that cannot be reached: nothing forgotten
        VMBackup.objects.create(vm=vm, store=store, repository_key="vm-9-1", state="READY")
        BackupStoreModel = type(store)
        BackupStoreModel.objects.filter(pk=store.pk).update(endpoint="http://127.0.0.1:9")
        services.delete_all(owner, vm)
    assert VMBackup.objects.get().state == "READY"
