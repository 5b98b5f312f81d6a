"""Logins, logouts and failed logins are entries of their own; a token's first use from each
address is one, once."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from core.groups import personal_group
from tests.audit.conftest import token_client

pytestmark = pytest.mark.django_db


def test_a_login_and_a_logout_are_recorded_once(owner):
    personal_group(owner)  # a login is hers alone, not her group's admins' to read
    client = Client(REMOTE_ADDR="192.0.2.10")
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    login = AuditEntry.objects.get()
    assert (login.action, login.user, login.outcome, login.channel) == (
        "login",
        owner,
        "ok",
        "page",
    )
    assert (login.address, login.group_name) == ("192.0.2.10", "")
    client.post("/logout/")
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["logout", "login"]


def test_an_admin_login_is_on_the_admin_channel(operator):
    client = Client()
    client.post("/admin/login/", {"username": "oper", "password": "pw-oper-123"})
    assert AuditEntry.objects.get().channel == "admin"


def test_a_failed_login_names_the_account_tried_and_never_the_password(owner):
    Client(REMOTE_ADDR="192.0.2.66").post("/login/", {"username": "alice", "password": "guess-1"})
    Client().post("/login/", {"username": "nobody", "password": "guess-2"})
    tried = AuditEntry.objects.get(username="alice")
    assert (tried.action, tried.outcome, tried.user, tried.address) == (
        "login_failed",
        "refused",
        owner,
        "192.0.2.66",
    )
    assert AuditEntry.objects.get(username="nobody").user is None
    stored = " ".join(str(v) for row in AuditEntry.objects.values() for v in row.values())
    assert "guess-1" not in stored and "guess-2" not in stored


def test_a_locked_out_login_says_so(owner, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    last = AuditEntry.objects.filter(action="login_failed").first()
    assert "locked out" in last.detail


def test_a_tokens_first_use_from_an_address_is_recorded_once(owner):
    api = token_client(owner)
    for _ in range(3):
        assert api.get("/api/vms/", REMOTE_ADDR="203.0.113.7").status_code == 200
    entry = AuditEntry.objects.get(action="token_new_address")
    assert (entry.user, entry.token, entry.address, entry.channel) == (
        owner,
        api.token,
        "203.0.113.7",
        "api",
    )
    assert "first used from 203.0.113.7" in entry.detail
    api.get("/api/vms/", REMOTE_ADDR="203.0.113.8")
    assert AuditEntry.objects.filter(action="token_new_address").count() == 2


def test_a_seen_address_costs_no_query_even_once_the_cache_forgot(owner):
    from django.core.cache import cache

    api = token_client(owner)
    api.get("/api/vms/", REMOTE_ADDR="203.0.113.7")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            api.get("/api/vms/", REMOTE_ADDR="203.0.113.7")
        return [q["sql"] for q in captured if "audit_" in q["sql"]]

    assert queries() == []
    cache.clear()
    assert len(queries()) == 1  # one indexed lookup, no write
    assert AuditEntry.objects.filter(action="token_new_address").count() == 1


def test_a_group_tokens_new_address_is_in_its_group(owner, team):
    api = token_client(owner, group=team["group"], role="admin")
    api.get("/api/vms/")
    assert AuditEntry.objects.get(action="token_new_address").group_name == "alice"


def test_a_failing_recorder_never_breaks_a_login_or_a_token(owner, monkeypatch, caplog):
    from audit.models import TokenAddress

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(TokenAddress.objects, "filter", broken)
    api = token_client(owner)
    assert api.get("/api/vms/", REMOTE_ADDR="203.0.113.9").status_code == 200
    monkeypatch.setattr(AuditEntry, "save", broken)
    response = Client().post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert "token_used failed" in caplog.text and "audit entry not written" in caplog.text
