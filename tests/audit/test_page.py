"""The audit log page reads what the API reads, filtered alike, at a constant query count."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def add(user, group, action="action:poweroff", n=1):
    AuditEntry.objects.bulk_create(
        AuditEntry(
            user=user,
            username=user.username,
            group=group,
            group_name=group.name if group else "",
            channel="page",
            action=action,
            object_type="vms.vm",
            object_id="7",
            object_name="web",
            outcome="ok",
            status=302,
        )
        for _ in range(n)
    )


def test_a_group_admin_sees_a_members_entry_and_an_outsider_does_not(team, owner_client, outsider):
    add(team["bob"], team["group"], action="action:reboot")
    html = owner_client.get("/audit/").content.decode()
    assert "bob" in html and "action:reboot" in html and "vms.vm 7 web" in html
    other = Client()
    other.force_login(outsider)
    assert "action:reboot" not in other.get("/audit/").content.decode()


def test_filters_and_bad_filters(team, owner_client):
    add(team["bob"], team["group"], action="delete")
    add(team["bob"], team["group"], action="create")
    html = owner_client.get("/audit/?action=delete").content.decode()
    assert ">delete<" in html and ">create<" not in html
    response = owner_client.get("/audit/?outcome=maybe&since=yesterday")
    assert response.status_code == 200 and "No entries." in response.content.decode()


def test_the_page_costs_the_same_queries_with_more_rows(team, owner_client):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get("/audit/").status_code == 200
        return len(captured)

    add(team["bob"], team["group"])
    few = count()
    add(team["bob"], team["group"], n=49)
    assert count() == few
