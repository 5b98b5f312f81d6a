"""onegroup, oneuser and chgrp/chown against a live portal: a team made, people added with
roles, a VM made in the team, moved and given away, and every refusal said in one line."""

import pytest

from cli import onegroup, onetemplate, oneuser, onevm
from core.groups import Membership
from core.models import ApiToken
from tests.cli.helpers import run_cli
from vms.models import VM

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False  # no host behind the cluster: deploy jobs stay queued


@pytest.fixture
def team(cli_env, capsys, template, django_user_model):
    """Alice's group `team`, bob a member, carol a viewer (made through the CLI)."""
    for name in ("bob", "carol"):
        django_user_model.objects.create_user(name, password="x")
    assert run_cli(capsys, onegroup, "create", "team", "--description", "edge")[0] == 0
    assert run_cli(capsys, oneuser, "addgroup", "bob", "team")[0] == 0
    assert run_cli(capsys, onegroup, "addviewer", "team", "carol")[0] == 0
    return "team"


def _as(monkeypatch, username):
    user = Membership.objects.filter(user__username=username).first().user
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(user, "cli")[1])


def test_a_team_shares_a_vm_by_role(team, capsys, monkeypatch):
    code, out, err = run_cli(capsys, onegroup, "show", "team")
    assert code == 0 and "bob" in out and "viewer" in out
    code, out, err = run_cli(
        capsys, onetemplate, "instantiate", "Alpine", "--name", "web", "--nic", "dc-public",
        "--group", "team",
    )  # fmt: skip
    assert (code, err) == (0, "")
    vm = VM.objects.get(name="web")
    assert vm.group.name == "team"
    code, out, _ = run_cli(capsys, onevm, "list")
    assert out.splitlines()[1].split()[1:3] == ["alice", "team"]

    _as(monkeypatch, "carol")  # a viewer sees it and is told why she may not stop it
    assert run_cli(capsys, onevm, "show", "web")[0] == 0
    code, out, err = run_cli(capsys, onevm, "poweroff", "web")
    assert code == 1 and "you are a viewer" in err
    code, out, err = run_cli(capsys, onevm, "chown", "web", "carol")
    assert code == 1 and "viewer" in err

    _as(monkeypatch, "bob")  # a member uses it, but only admins give it away
    code, out, err = run_cli(capsys, onevm, "chown", "web", "bob")
    assert code == 1 and "only an admin" in err
    _as(monkeypatch, "alice")
    code, out, err = run_cli(capsys, onevm, "chown", "web", "carol")
    assert code == 1 and "not an admin or member of group team" in err
    code, out, err = run_cli(capsys, onevm, "chown", "web", "bob")
    assert (code, out.strip()) == (0, "VM web belongs to bob")
    assert VM.objects.get(pk=vm.pk).owner.username == "bob"

    code, out, err = run_cli(capsys, onegroup, "delete", "team")
    assert code == 1 and "still holds 1 vm(s)" in err
    code, out, err = run_cli(capsys, onevm, "chgrp", "web", "alice")
    assert (code, out.strip()) == (0, "VM web is in group alice")


def test_a_users_primary_group_decides_where_new_objects_go(team, capsys, monkeypatch):
    code, out, err = run_cli(capsys, oneuser, "chgrp", "alice", "team")
    assert (code, err) == (0, "")
    code, out, _ = run_cli(capsys, oneuser, "show", "alice")
    assert "GROUP" in out and "team" in out.split("GROUP", 1)[1].splitlines()[0]
    run_cli(capsys, onetemplate, "instantiate", "Alpine", "--name", "db", "--nic", "dc-public")
    assert VM.objects.get(name="db").group.name == "team"
    code, out, err = run_cli(capsys, oneuser, "chgrp", "bob", "alice")
    assert code == 1 and "only an operator" in err
    code, out, err = run_cli(capsys, oneuser, "delgroup", "alice", "team")
    assert code == 1 and "primary group" in err


def test_strangers_are_not_found(team, capsys, monkeypatch, outsider):
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(outsider, "cli")[1])
    for module, argv in (
        (onegroup, ["show", "team"]),
        (oneuser, ["show", "alice"]),
        (onevm, ["chgrp", "1", "team"]),
    ):
        code, out, err = run_cli(capsys, module, *argv)
        assert code == 1 and "not found" in err, (argv, err)
