"""Every change is an entry: who, as which group, from where, what, how it ended; a refusal
too, with its status; nothing of a body but a VM action's name; a broken recorder never breaks
the request."""

import pytest
from django.test import Client

from audit.models import AuditEntry
from tests.audit.conftest import token_client
from tests.conftest import TOKEN

pytestmark = pytest.mark.django_db


def only_entry(**filters) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


def test_a_page_action_is_recorded_with_who_group_where_and_what(owner_client, team, owner):
    vm = team["vm"]
    response = owner_client.post(f"/vms/{vm.pk}/poweroff/", REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 302
    entry = only_entry(action="action:poweroff")
    assert (entry.user, entry.username, entry.channel) == (owner, "alice", "page")
    assert (entry.group, entry.group_name) == (team["group"], "alice")
    assert (entry.address, entry.method, entry.path) == (
        "203.0.113.5",
        "POST",
        response.request["PATH_INFO"],
    )
    assert (entry.object_type, entry.object_id, entry.object_name) == ("vms.vm", str(vm.pk), "web")
    assert (entry.status, entry.outcome, entry.token) == (302, "ok", None)


def test_an_api_action_names_its_token(team, owner):
    vm = team["vm"]
    api = token_client(owner)
    response = api.post(
        f"/api/vms/{vm.pk}/action/",
        {"action": "poweroff"},
        format="json",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 202, response.content
    entry = only_entry(action="action:poweroff")
    assert (entry.channel, entry.token, entry.token_name) == ("api", api.token, "audit-test")
    assert entry.token_prefix == api.raw_token[:10]
    assert (entry.group_name, entry.address, entry.outcome, entry.status) == (
        "alice",
        "198.51.100.4",
        "ok",
        202,
    )
    assert (entry.object_type, entry.object_id, entry.object_name) == ("vms.vm", str(vm.pk), "web")


def test_an_api_create_names_the_new_object_and_its_group(team, api, owner):
    template = team["vm"].template
    response = api.post(
        f"/api/templates/{template.pk}/instantiate/", {"name": "web2", "nics": ["dc-public"]}
    )
    assert response.status_code == 201, response.content
    entry = only_entry(action="action:instantiate")
    assert entry.object_type == "vms.vmtemplate" and entry.group_name == "alice"
    response = api.post("/api/groups/", {"name": "blue"})
    assert response.status_code == 201, response.content
    entry = only_entry(action="create", path="/api/groups/")
    assert (entry.object_type, entry.object_name) == ("core.group", "blue")


def test_an_update_and_a_delete_are_recorded(team, api):
    template = team["vm"].template
    assert api.patch(f"/api/templates/{template.pk}/", {"cpu": "0.5"}).status_code == 200
    entry = only_entry(action="update")
    assert (entry.object_type, entry.object_id) == ("vms.vmtemplate", str(template.pk))
    vm = team["vm"]
    assert api.delete(f"/api/vms/{vm.pk}/").status_code in (200, 202, 204)
    entry = only_entry(action="delete")
    assert (entry.object_type, entry.object_id, entry.object_name) == ("vms.vm", str(vm.pk), "web")


def test_a_viewers_refused_change_is_recorded_as_refused(team):
    vm, carol = team["vm"], team["carol"]
    api = token_client(carol)
    response = api.post(f"/api/vms/{vm.pk}/action/", {"action": "poweroff"}, format="json")
    assert response.status_code == 403
    entry = only_entry(action="action:poweroff")
    assert (entry.username, entry.status, entry.outcome) == ("carol", 403, "refused")
    assert (entry.object_id, entry.group_name) == (str(vm.pk), "alice")
    assert "where you are a viewer" in entry.detail
    page = Client()
    page.force_login(carol)
    assert page.post(f"/vms/{vm.pk}/reboot/").status_code == 302  # told on the page it came from
    entry = only_entry(action="action:reboot")
    assert (entry.status, entry.outcome, entry.channel) == (302, "refused", "page")
    assert "where you are a viewer" in entry.detail


def test_an_outsiders_404_names_the_id_and_nothing_of_the_object(team, outsider):
    vm = team["vm"]
    api = token_client(outsider)
    response = api.post(f"/api/vms/{vm.pk}/action/", {"action": "poweroff"}, format="json")
    assert response.status_code == 404
    entry = only_entry(username="mallory", action="action:poweroff")
    assert (entry.status, entry.outcome, entry.object_id) == (404, "refused", str(vm.pk))
    assert entry.object_type == "vms.vm"
    assert entry.object_name == "" and entry.group_name != "alice"


def test_an_invalid_change_is_a_refused_400(team, api):
    response = api.post(f"/api/vms/{team['vm'].pk}/action/", {"action": "fly"}, format="json")
    assert response.status_code == 400
    entry = only_entry(action="action:fly")
    assert (entry.status, entry.outcome) == (400, "refused")
    assert "not a valid choice" in entry.detail


def test_an_admin_change_is_recorded(operator_client, owner):
    response = operator_client.post(
        "/admin/core/quota/add/", {"user": owner.pk, "vms": 5, "cpu": 4, "memory_mb": 4096}
    )
    assert response.status_code == 302, response.content
    entry = only_entry(channel="admin")
    assert (entry.username, entry.action, entry.outcome) == ("oper", "create", "ok")


def test_reads_are_not_recorded(owner_client, api, team):
    owner_client.get(f"/vms/{team['vm'].pk}/")
    api.get("/api/vms/")
    assert not AuditEntry.objects.exclude(action="login").exists()


def test_secrets_sent_are_never_stored(owner_client, team, owner):
    api = token_client(owner)
    document = {
        "name": "edge-ams",
        "provider": "digitalocean",
        "connection": {"token": TOKEN, "region": "ams3"},
        "inputs": [],
        "password": "hunter2-secret",
    }
    api.post("/api/providers/", document, format="json")
    api.post("/api/backupstores/", {"name": "s", "secret_key": "S3CRETKEY-xyz"}, format="json")
    page = owner_client.post("/account/tokens/", {"name": "ci", "expires_in_days": ""})
    issued = page.context["new_token"]
    assert issued
    token_entry = only_entry(path="/account/tokens/")
    assert (token_entry.action, token_entry.object_type, token_entry.object_name) == (
        "create",
        "core.apitoken",
        "ci",
    )
    Client().post("/login/", {"username": "alice", "password": "hunter2-secret"})
    assert AuditEntry.objects.count() >= 4
    stored = " ".join(str(value) for row in AuditEntry.objects.values() for value in row.values())
    for secret in (TOKEN, "hunter2-secret", "S3CRETKEY-xyz", issued, api.raw_token):
        assert secret not in stored


def test_a_recorder_that_fails_never_breaks_the_request(owner_client, team, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(AuditEntry, "save", broken)
    response = owner_client.post(f"/vms/{team['vm'].pk}/poweroff/")
    assert response.status_code == 302
    assert "audit entry not written" in caplog.text
