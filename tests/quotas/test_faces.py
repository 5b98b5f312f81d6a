"""Quotas and budgets through the API and the CLI: everyone in a group sees its quotas and its
month, operators set quotas, its admins set its budget, outsiders find nothing."""

import pytest

from cli import onegroup, onetemplate, oneuser
from core import group_services
from core.groups import Role, personal_group
from core.models import ApiToken
from core.quotas import Quota
from costs.models import Budget
from tests.cli.helpers import run_cli


@pytest.fixture
def team(owner, outsider, django_user_model):
    team = group_services.create_group(owner, "edge-team")
    viewer = django_user_model.objects.create_user("carol")
    group_services.set_member(owner, team, viewer.username, Role.VIEWER)
    return team


@pytest.mark.django_db
def test_group_quotas_seen_by_members_set_by_operators(api, outsider_api, operator_api, team):
    path = f"/api/groups/{team.pk}/quota/"
    shown = api.get(path)
    assert shown.status_code == 200
    lines = {line["label"]: line for line in shown.json()["quotas"]}
    assert lines["VMS"]["limit"] is None and lines["VMS"]["used"] == "0"
    assert outsider_api.get(path).status_code == 404
    # The group's admin may not raise its own limits.
    refused = api.put(path, {"vms": 100}, format="json")
    assert refused.status_code == 403 and "only an operator" in refused.json()["detail"]

    made = operator_api.put(path, {"vms": 10, "memory_mb": 4096, "spend": "50"}, format="json")
    assert made.status_code == 200, made.content
    lines = {line["label"]: line for line in made.json()["quotas"]}
    assert (lines["VMS"]["limit"], lines["MEMORY"]["limit_text"]) == ("10", "4 GB")
    assert lines["SPEND"]["limit_text"] == "$50.00"
    cleared = operator_api.put(path, {"vms": None}, format="json")
    assert {line["label"]: line["limit"] for line in cleared.json()["quotas"]}["VMS"] is None
    assert Quota.objects.get(group=team).memory_mb == 4096


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"vms": -1}, "vms", "0 or more"),
        ({"vms": "ten"}, "vms", "must be a number"),
        ({"vms": 1.5}, "vms", "whole number"),
        ({"cpu": "0.001"}, "cpu", "at most 2 decimals"),
        ({"spend": "NaN"}, "spend", "0 or more"),
        ({"cores": 4}, "cores", "no such quota"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(operator_api, owner, body, field, words):
    answer = operator_api.put(f"/api/users/{owner.username}/quota/", body, format="json")
    assert answer.status_code == 400
    assert words in str(answer.json()["errors"][field])
    assert not Quota.objects.filter(user=owner).exists()


@pytest.mark.django_db
def test_a_user_sees_their_own_quotas_and_a_stranger_is_not_found(api, outsider_api, owner):
    assert api.get(f"/api/users/{owner.username}/quota/").json()["quotas"][0]["limit"] == "20"
    assert outsider_api.get(f"/api/users/{owner.username}/quota/").status_code == 404
    assert api.put(f"/api/users/{owner.username}/quota/", {"vms": 99}).status_code == 403


@pytest.mark.django_db
def test_a_group_token_of_an_operator_does_not_set_quotas(operator, owner, team):
    from rest_framework.test import APIClient

    group_services.set_member(owner, team, operator.username, Role.ADMIN)
    client = APIClient()
    raw = ApiToken.issue(operator, "scoped", group=team, role=Role.ADMIN)[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.put(f"/api/groups/{team.pk}/quota/", {"vms": 1}).status_code == 403


@pytest.mark.django_db
def test_budgets_set_by_the_groups_admins(api, outsider_api, owner, team, django_user_model):
    path = f"/api/costs/groups/{team.pk}/"
    assert api.get(path).json()["budget"] is None
    assert outsider_api.get(path).status_code == 404
    made = api.put(path, {"amount": "250", "warn_percent": 75, "hard_stop": True}, format="json")
    assert made.status_code == 200, made.content
    assert made.json()["budget"] == {
        "amount": "250.00",
        "warn_percent": 75,
        "hard_stop": True,
        "percent": 0,
        "level": "",
    }
    bad = api.put(path, {"amount": "lots"}, format="json")
    assert bad.status_code == 400 and "not an amount" in str(bad.json()["errors"]["amount"])
    viewer = django_user_model.objects.get(username="carol")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(viewer, 't')[1]}")
    assert client.get(path).status_code == 200
    refused = client.put(path, {"amount": "1"}, format="json")
    assert refused.status_code == 403 and "only its admins" in refused.json()["detail"]
    assert api.delete(path).status_code == 204
    assert not Budget.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_cli_shows_and_sets_quotas(cli_env, capsys, monkeypatch, owner, operator, template):
    personal_group(owner)
    code, out, err = run_cli(capsys, oneuser, "show", "alice")
    assert code == 0, err
    assert "QUOTAS" in out and any(
        line.split()[:3] == ["VMS", "0", "20"] for line in out.splitlines()
    )
    code, _, err = run_cli(capsys, onegroup, "quota", "alice", "--memory", "2G")
    assert code == 1 and "only an operator sets quotas" in err

    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(operator, "cli")[1])
    code, out, err = run_cli(capsys, onegroup, "quota", "alice", "--vms", "1", "--memory", "2G")
    assert code == 0, err
    assert any(line.split()[:4] == ["MEMORY", "0", "MB", "2"] for line in out.splitlines())
    code, _, err = run_cli(capsys, oneuser, "quota", "alice", "--memory", "lots")
    assert code == 1 and "--memory" in err

    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(owner, "cli2")[1])
    args = ["instantiate", "Alpine", "--nic", "dc-public", "--name"]
    assert run_cli(capsys, onetemplate, *args, "one")[0] == 0
    code, _, err = run_cli(capsys, onetemplate, *args, "two")
    assert code == 1 and "group alice: VMS 1 of 1 used, this VM needs 1" in err
    code, out, _ = run_cli(
        capsys, onegroup, "budget", "alice", "--amount", "100", "--hard-stop", "yes"
    )
    assert code == 0 and "$100.00 (warn at 80%, hard stop)" in out
    code, out, _ = run_cli(capsys, onegroup, "show", "alice")
    assert "COST THIS MONTH" in out and "QUOTAS" in out


@pytest.mark.django_db
def test_the_instantiate_page_shows_quotas_and_takes_a_group(
    owner_client, owner, cluster, template
):
    team = group_services.create_group(owner, "edge-team")
    Quota.objects.create(group=team, vms=0)
    page = owner_client.get(f"/vms/templates/{template.pk}/instantiate/").content.decode()
    assert "Your quotas (alice)" in page and "Quotas of group alice" in page
    assert f'<option value="{team.pk}">edge-team</option>' in page
    public = cluster.networks.get(kind="public").pk
    refused = owner_client.post(
        f"/vms/templates/{template.pk}/instantiate/",
        {"name": "web", "nic": str(public), "group": str(team.pk)},
    )
    text = refused.content.decode()
    assert "group edge-team: VMS 0 of 0 used, this VM needs 1" in text
    assert "Quotas of group edge-team" in text
    made = owner_client.post(
        f"/vms/templates/{template.pk}/instantiate/", {"name": "web", "nic": str(public)}
    )
    assert made.status_code == 302
