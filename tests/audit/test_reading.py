"""Who reads what: operators everything, a group's admins the group's entries, everyone their
own; another's entry is a 404. `/api/audit/` filters and pages with a constant query count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from core.groups import Group
from tests.audit.conftest import token_client

pytestmark = pytest.mark.django_db


def entry(user, group=None, **fields) -> AuditEntry:
    defaults = {"channel": "api", "action": "update", "outcome": "ok", "status": 200}
    return AuditEntry.objects.create(
        user=user,
        username=user.username,
        group=group,
        group_name=group.name if group else "",
        **{**defaults, **fields},
    )


@pytest.fixture
def log(team, owner, outsider, operator):
    group = team["group"]
    other = Group.objects.create(name="elsewhere")
    return {
        "alice": entry(owner, group, action="create"),
        "bob": entry(team["bob"], group, action="action:poweroff"),
        "bob_elsewhere": entry(team["bob"], other, action="delete"),
        "carol": entry(team["carol"], group, action="update", outcome="refused", status=403),
        "mallory": entry(outsider, None, action="login"),
        "oper": entry(operator, None, action="login"),
    }


def ids(client, query="") -> set[int]:
    response = client.get(f"/api/audit/{query}")
    assert response.status_code == 200, response.content
    # Less the reader's own token's first use, an entry of its own.
    return {r["id"] for r in response.json()["results"] if r["action"] != "token_new_address"}


def pks(log, *names) -> set[int]:
    return {log[name].pk for name in names}


def test_a_group_admin_reads_the_groups_entries_and_her_own(log, owner):
    assert ids(token_client(owner)) == pks(log, "alice", "bob", "carol")


def test_a_member_reads_only_his_own(log, team):
    assert ids(token_client(team["bob"])) == pks(log, "bob", "bob_elsewhere")
    carol = token_client(team["carol"])
    assert ids(carol) == pks(log, "carol")
    assert carol.get(f"/api/audit/{log['bob'].pk}/").status_code == 404


def test_an_outsider_gets_404_for_anothers_entry(log, outsider):
    api = token_client(outsider)
    assert ids(api) == pks(log, "mallory")
    assert api.get(f"/api/audit/{log['alice'].pk}/").status_code == 404
    assert api.get(f"/api/audit/{log['mallory'].pk}/").json()["action"] == "login"


def test_an_operator_reads_everything(log, operator):
    assert ids(token_client(operator)) == {e.pk for e in log.values()}


def test_a_group_token_reads_within_its_group_as_its_role(log, owner, team):
    group = team["group"]
    assert ids(token_client(owner, group=group, role="admin")) == pks(log, "alice", "bob", "carol")
    assert ids(token_client(owner, group=group, role="member")) == pks(log, "alice")


def test_the_page_session_reads_the_api_too(log, owner_client):
    seen = ids(owner_client)
    assert pks(log, "alice", "bob", "carol") <= seen  # and her login, an entry of her own
    assert not pks(log, "bob_elsewhere", "mallory", "oper") & seen


def test_filters(log, operator):
    api = token_client(operator)
    assert ids(api, "?user=bob") == pks(log, "bob", "bob_elsewhere")
    assert ids(api, "?group=alice&action=create") == pks(log, "alice")
    assert ids(api, "?outcome=refused") == pks(log, "carol")
    AuditEntry.objects.filter(pk=log["oper"].pk).update(at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert log["oper"].pk not in ids(api, f"?since={since}")
    assert ids(api, f"?until={since}") == pks(log, "oper")
    assert api.get("/api/audit/?outcome=maybe").status_code == 400


def test_the_log_cannot_be_changed_through_the_api(log, operator):
    api = token_client(operator)
    assert api.delete(f"/api/audit/{log['alice'].pk}/").status_code == 405
    assert api.post("/api/audit/", {}).status_code == 405
    assert AuditEntry.objects.filter(pk=log["alice"].pk).exists()


@pytest.mark.parametrize("count", [1, 50])
def test_the_list_costs_the_same_queries_with_more_rows(
    team, owner, count, django_assert_max_num_queries
):
    for _ in range(count):
        entry(team["bob"], team["group"])
    api = token_client(owner)
    api.get("/api/audit/")  # the token's first use from here is an entry of its own
    # token + last used, admin's groups in the filter, count, page
    with django_assert_max_num_queries(4):
        response = api.get("/api/audit/")
    assert response.json()["count"] >= count
