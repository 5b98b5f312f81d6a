"""The backup pages: the VM page lists backups and offers each face's actions (confirmed),
another tenant gets 404 on every form, and the stores page keeps only a checked store."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups.models import BackupStore, VMBackup
from vms.models import VMJob

pytestmark = pytest.mark.django_db


def test_the_vm_page_lists_backups_with_their_actions(vm, store, owner_client):
    VMBackup.objects.create(
        vm=vm, store=store, repository_key="k", state="READY", snapshot_id="ab12cd34" + "0" * 56,
        uploaded_bytes=5 * 2**20, duration_s=3.2, freeze_ms=90,
    )  # fmt: skip
    page = owner_client.get(f"/vms/{vm.pk}/").content.decode()
    assert "ab12cd34" in page and "90 ms" in page and "Back up now" in page
    assert "Restore here" in page and "everything it wrote since is lost" in page
    assert "Restore as new VM" in page


def test_the_vm_page_costs_the_same_queries_for_many_backups(vm, store, owner_client):
    def queries():
        with CaptureQueriesContext(connection) as seen:
            assert owner_client.get(f"/vms/{vm.pk}/").status_code == 200
        return len(seen)

    VMBackup.objects.create(vm=vm, store=store, repository_key="k", state="READY")
    one = queries()
    for _ in range(10):
        VMBackup.objects.create(vm=vm, store=store, repository_key="k", state="READY")
    assert queries() == one


def test_back_up_now_starts_a_job_and_a_refusal_is_a_message(vm, owner_client, owner):
    answer = owner_client.post(f"/backups/vms/{vm.pk}/", follow=True)
    assert "no backup store" in answer.content.decode()
    assert not VMJob.objects.filter(action="backup").exists()
    from .conftest import make_store

    make_store(owner)
    answer = owner_client.post(f"/backups/vms/{vm.pk}/", follow=True)
    assert "started" in answer.content.decode()
    assert VMJob.objects.filter(vm=vm, action="backup").count() == 1


def test_another_tenant_gets_404_on_every_form(vm, store, outsider_client):
    taken = VMBackup.objects.create(vm=vm, store=store, repository_key="k", state="READY")
    for url in (
        f"/backups/vms/{vm.pk}/",
        f"/backups/vms/{vm.pk}/{taken.pk}/restore/",
        f"/backups/vms/{vm.pk}/{taken.pk}/restore-as/",
        f"/backups/vms/{vm.pk}/{taken.pk}/delete/",
        f"/backups/stores/{store.pk}/delete/",
    ):
        assert outsider_client.post(url, {"name": "x"}).status_code == 404, url
    assert "DO00ACCESSKEY" not in outsider_client.get("/backups/stores/").content.decode()
    assert BackupStore.objects.count() == 1 and VMBackup.objects.count() == 1


def test_the_stores_page_refuses_a_store_it_cannot_reach(owner_client, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    form = {
        "name": "spaces",
        "endpoint": "http://127.0.0.1:9",
        "region": "fra1",
        "bucket": "edge-backups",
        "access_key": "DO00KEY",
        "secret_key": "s3cr3t-value",
    }
    page = owner_client.post("/backups/stores/", form).content.decode()
    assert "cannot connect to http://127.0.0.1:9" in page
    assert "s3cr3t-value" not in page
    assert not BackupStore.objects.exists()


def test_the_vm_page_sets_and_clears_a_schedule(vm, owner_client, outsider):
    from django.test import Client

    from backups.models import BackupSchedule

    form = {"frequency": "weekly", "at": "02:00", "day": "sun", "keep_weekly": "4"}
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.post(f"/backups/vms/{vm.pk}/schedule/", form).status_code == 404
    page = owner_client.post(f"/backups/vms/{vm.pk}/schedule/", form, follow=True)
    assert "weekly on sun at 02:00 UTC" in page.content.decode()
    assert "--keep-weekly 4" in page.content.decode()
    bad = owner_client.post(f"/backups/vms/{vm.pk}/schedule/", {**form, "day": ""}, follow=True)
    assert "needs a weekday" in bad.content.decode()
    owner_client.post(f"/backups/vms/{vm.pk}/schedule/", {"off": "1"})
    assert not BackupSchedule.objects.exists()


def test_the_vm_page_sets_the_recovery_policy_and_operators_recover(
    vm, owner_client, operator, outsider
):
    from django.test import Client

    page = owner_client.get(f"/vms/{vm.pk}/").content.decode()
    assert "Recovery: <strong>restore</strong> (its template's)" in page
    assert "Recover (operator)" not in page
    owner_client.post(f"/backups/vms/{vm.pk}/recovery-policy/", {"policy": "none"})
    vm.refresh_from_db()
    assert vm.recovery() == "none"
    bad = owner_client.post(f"/backups/vms/{vm.pk}/recovery-policy/", {"policy": "x"}, follow=True)
    assert "use restore, recreate or none" in bad.content.decode()
    refused = owner_client.post(f"/backups/vms/{vm.pk}/recover/", {"operation": "failure"})
    assert refused.status_code == 302 and vm.state == "RUNNING"
    stranger = Client()
    stranger.force_login(outsider)
    assert (
        stranger.post(f"/backups/vms/{vm.pk}/recovery-policy/", {"policy": ""}).status_code == 404
    )
    staff = Client()
    staff.force_login(operator)
    assert "Recover (operator)" in staff.get(f"/vms/{vm.pk}/").content.decode()
    staff.post(f"/backups/vms/{vm.pk}/recover/", {"operation": "failure"})
    vm.refresh_from_db()
    assert vm.state == "FAILURE"
