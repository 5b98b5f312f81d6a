"""The group pages: a user's groups and a new one; a group's members, managed by its admins
(and the operators), read by its other members, a 404 for outsiders; what it holds, and its
deletion refused while it holds anything."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from core import group_services
from core.groups import Group, Membership, Role, personal_group
from provisions.models import Provision
from vms import services as vm_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(owner, django_user_model):
    """Group 'team': alice its admin, bob a member, carol a viewer."""
    group = group_services.create_group(owner, "team", "the edge team")
    for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
        user = django_user_model.objects.create_user(name, password="x")
        Membership.objects.create(group=group, user=user, role=role)
    return group


def client_of(username) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def roles_of(group) -> dict:
    return dict(group.memberships.values_list("user__username", "role"))


def page(response) -> str:
    """The page's HTML without the blanks between tags, so a row reads as one string."""
    assert response.status_code == 200, response.status_code
    return re.sub(r">\s+<", "><", response.content.decode())


def test_the_list_shows_the_users_groups_with_role_members_and_primary(owner_client, owner, team):
    personal_group(owner)
    html = page(owner_client.get("/groups/"))
    assert f'href="/groups/{team.pk}/">team</a>' in html
    assert "<td>the edge team</td><td>admin</td><td>3</td>" in html
    # Her own group is her primary one: one member, marked.
    assert ">alice</a></td><td>alice&#x27;s own group</td><td>admin</td><td>1</td>" in html
    assert html.count('title="your primary group"') == 1
    assert 'aria-current="page">Groups</a>' in html


def test_the_list_shows_an_outsider_none_and_an_operator_all(outsider_client, team, operator):
    assert "team" not in page(outsider_client.get("/groups/"))
    html = page(client_of(operator.username).get("/groups/"))
    # The operator is in none of them: no role, but every group is listed.
    assert "<td>the edge team</td><td>—</td><td>3</td>" in html


def test_a_group_made_on_the_list_page_has_its_maker_as_admin(owner_client, owner):
    answer = owner_client.post("/groups/", {"name": "lab", "description": "tests"})
    group = Group.objects.get(name="lab")
    assert answer.status_code == 302 and answer["Location"] == f"/groups/{group.pk}/"
    assert group.description == "tests"
    assert roles_of(group) == {"alice": "admin"}
    assert not Membership.objects.get(group=group).primary
    html = page(owner_client.get(answer["Location"]))
    assert "Group lab created; you are its admin." in html


@pytest.mark.parametrize(("name", "words"), [("team", "exists"), ("9lives", "starting with")])
def test_a_refused_group_name_is_shown_on_the_form(owner_client, team, name, words):
    before = Group.objects.count()
    html = page(owner_client.post("/groups/", {"name": name}))
    assert words in html and 'class="errorlist' in html
    assert Group.objects.count() == before


def test_an_admin_sees_the_members_and_the_forms(owner_client, team):
    html = page(owner_client.get(f"/groups/{team.pk}/"))
    for name in ("alice", "bob", "carol"):
        assert f"<td>{name}</td>" in html
    assert "Your role: admin." in html
    assert html.count("Change role") == 3 and html.count(">Remove</button>") == 3
    assert "Add member" in html and "Delete group" in html
    assert "return confirm('Remove bob from group team?" in html
    assert "return confirm('Delete group team?" in html


@pytest.mark.parametrize(("username", "role"), [("bob", "member"), ("carol", "viewer")])
def test_a_member_or_viewer_reads_the_members_without_forms(team, username, role):
    html = page(client_of(username).get(f"/groups/{team.pk}/"))
    assert f"Your role: {role}." in html
    assert "<td>alice</td><td>admin</td>" in html
    for form in ("Change role", ">Remove</button>", "Add member", "Delete group"):
        assert form not in html


def test_an_operator_outside_the_group_manages_it(operator, team):
    html = page(client_of(operator.username).get(f"/groups/{team.pk}/"))
    assert "Your role: none (operator)." in html and "Delete group" in html


def test_an_outsider_gets_404_for_the_group_and_its_forms(outsider_client, team):
    before = roles_of(team)
    assert outsider_client.get(f"/groups/{team.pk}/").status_code == 404
    for url, data in (
        (f"/groups/{team.pk}/members/", {"user": "mallory", "role": "admin"}),
        (f"/groups/{team.pk}/members/remove/", {"user": "bob"}),
        (f"/groups/{team.pk}/delete/", {}),
    ):
        assert outsider_client.post(url, data).status_code == 404, url
    assert roles_of(team) == before and Group.objects.filter(pk=team.pk).exists()


def test_an_admin_adds_a_member_changes_a_role_and_removes_one(owner_client, outsider, team):
    url = f"/groups/{team.pk}/"
    added = owner_client.post(f"{url}members/", {"user": "mallory", "role": "viewer"}, follow=True)
    assert "mallory is now viewer of team." in page(added)
    changed = owner_client.post(f"{url}members/", {"user": "bob", "role": "admin"}, follow=True)
    assert "bob is now admin of team." in page(changed)
    removed = owner_client.post(f"{url}members/remove/", {"user": "carol"}, follow=True)
    assert "carol removed from team." in page(removed)
    assert roles_of(team) == {"alice": "admin", "bob": "admin", "mallory": "viewer"}


@pytest.mark.parametrize(
    ("path", "data", "words"),
    [
        ("members/", {"user": "nobody", "role": "member"}, "user &#x27;nobody&#x27; not found"),
        ("members/", {"user": "bob", "role": "owner"}, "role: Select a valid choice."),
        ("members/", {"user": "alice", "role": "member"}, "alice is group team&#x27;s last admin"),
        ("members/remove/", {"user": "alice"}, "alice is group team&#x27;s last admin"),
    ],
)
def test_an_admins_refused_change_is_shown_and_changes_nothing(
    owner_client, team, path, data, words
):
    before = roles_of(team)
    html = page(owner_client.post(f"/groups/{team.pk}/{path}", data, follow=True))
    assert 'class="msg-error"' in html and words in html
    assert roles_of(team) == before


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("members/", {"user": "carol", "role": "admin"}),
        ("members/", {"user": "bob", "role": "admin"}),
        ("members/remove/", {"user": "carol"}),
        ("delete/", {}),
    ],
)
@pytest.mark.parametrize("username", ["bob", "carol"])
def test_a_member_or_viewer_is_refused_with_a_message(team, username, path, data):
    before = roles_of(team)
    answer = client_of(username).post(f"/groups/{team.pk}/{path}", data, follow=True)
    assert "only an admin of group team may change its members" in page(answer)
    assert roles_of(team) == before and Group.objects.filter(pk=team.pk).exists()


def test_the_page_shows_what_the_group_holds(owner_client, owner, template):
    vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    group = personal_group(owner)
    html = page(owner_client.get(f"/groups/{group.pk}/"))
    for name, count in (("Provisions", 1), ("Images", 1), ("Templates", 1), ("VMs", 1)):
        assert f"<dt>{name}</dt><dd>{count}</dd>" in html


def test_a_group_is_deleted_only_when_it_holds_nothing(owner_client, team, cluster):
    url = f"/groups/{team.pk}/"
    Provision.objects.filter(pk=cluster.pk).update(group=team)
    assert "<dt>Provisions</dt><dd>1</dd>" in page(owner_client.get(url))
    refused = page(owner_client.post(f"{url}delete/", follow=True))
    assert "group team still holds 1 provision(s)" in refused
    assert Group.objects.filter(pk=team.pk).exists()

    Provision.objects.filter(pk=cluster.pk).update(group=personal_group(cluster.owner))
    done = owner_client.post(f"{url}delete/", follow=True)
    assert done.redirect_chain == [("/groups/", 302)]
    assert "Group team deleted." in page(done)
    assert not Group.objects.filter(pk=team.pk).exists()


@pytest.mark.parametrize("count", [1, 50])
def test_the_group_page_costs_the_same_queries_with_more_members(
    owner_client, owner, template, count, django_assert_num_queries
):
    group = personal_group(owner)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"user{index}") for index in range(count)
    )
    Membership.objects.bulk_create(Membership(group=group, user=user) for user in users)
    # session, user, the group with its four counts, its members with their users; its quota
    # row and one count per quota resource (10); its month's meters, its budget, its webhooks
    with django_assert_num_queries(18):
        html = page(owner_client.get(f"/groups/{group.pk}/"))
    assert f"<td>user{count - 1}</td>" in html and "<dt>Templates</dt><dd>1</dd>" in html


@pytest.mark.parametrize("count", [1, 50])
def test_the_group_list_costs_the_same_queries_with_more_groups(
    owner_client, owner, count, django_assert_num_queries
):
    for index in range(count):
        group_services.create_group(owner, f"g{index}")
    # session, user, the groups with their member counts and her role in each
    with django_assert_num_queries(3):
        html = page(owner_client.get("/groups/"))
    assert html.count("<td>admin</td><td>1</td>") == count


def test_the_page_shows_quotas_and_the_month_and_the_admin_sets_a_budget(
    owner_client, team, cluster
):
    from core.quotas import Quota
    from costs.models import Budget

    Quota.objects.create(group=team, vms=4, memory_mb=4096)
    html = page(owner_client.get(f"/groups/{team.pk}/"))
    assert "<td>VMS</td><td>0</td><td>4</td>" in html
    assert "<td>MEMORY</td><td>0 MB</td><td>4 GB</td>" in html
    assert "<dt>Budget</dt><dd>none</dd>" in html
    done = owner_client.post(
        f"/groups/{team.pk}/budget/",
        {"amount": "120", "warn_percent": "75", "hard_stop": "on"},
        follow=True,
    )
    assert "Budget of team: $120.00 a month." in page(done)
    assert "$120.00: 0% projected" in page(done)
    budget = Budget.objects.get(group=team)
    assert (budget.warn_percent, budget.hard_stop) == (75, True)
    bad = owner_client.post(f"/groups/{team.pk}/budget/", {"amount": "-5"}, follow=True)
    assert "amount:" in page(bad) and Budget.objects.get(group=team).amount == 120
    gone = owner_client.post(f"/groups/{team.pk}/budget/", {"remove": "1"}, follow=True)
    assert "Budget of team removed." in page(gone) and not Budget.objects.exists()


@pytest.mark.parametrize("username", ["bob", "carol"])
def test_members_see_the_quotas_but_not_the_budget_form(team, username):
    html = page(client_of(username).get(f"/groups/{team.pk}/"))
    assert "<td>VMS</td>" in html and "Set budget" not in html
    refused = client_of(username).post(f"/groups/{team.pk}/budget/", {"amount": "1"}, follow=True)
    assert f"you are a {'member' if username == 'bob' else 'viewer'} of group team" in page(refused)


def test_an_outsider_gets_404_for_the_budget_form(outsider_client, team):
    assert outsider_client.post(f"/groups/{team.pk}/budget/", {"amount": "1"}).status_code == 404


def test_the_admin_adds_a_webhook_seeing_its_secret_once_and_deletes_it(
    owner_client, team, settings
):
    from webhooks.models import Webhook

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    done = owner_client.post(
        f"/groups/{team.pk}/webhooks/",
        {"url": "https://127.0.0.1:8443/hook", "events": ["vm.state", "budget.warning"]},
        follow=True,
    )
    hook = Webhook.objects.get(group=team)
    secret = hook.get_secret()
    assert f"shown this once: {secret}" in page(done)
    again = page(owner_client.get(f"/groups/{team.pk}/"))
    assert secret not in again and "vm.state, budget.warning" in again
    refused = owner_client.post(
        f"/groups/{team.pk}/webhooks/",
        {"url": "https://169.254.169.254/latest", "events": ["vm.state"]},
        follow=True,
    )
    assert "address not allowed" in page(refused) and Webhook.objects.count() == 1
    gone = owner_client.post(f"/groups/{team.pk}/webhooks/{hook.pk}/delete/", follow=True)
    assert f"Webhook {hook.pk} deleted." in page(gone) and not Webhook.objects.exists()


@pytest.mark.parametrize("username", ["bob", "carol"])
def test_members_see_no_webhooks_and_cannot_add_one(team, username):
    assert "Add webhook" not in page(client_of(username).get(f"/groups/{team.pk}/"))
    answer = client_of(username).post(
        f"/groups/{team.pk}/webhooks/",
        {"url": "https://hooks.example/x", "events": ["vm.state"]},
        follow=True,
    )
    assert "only its admins and the operators manage its webhooks" in page(answer)
