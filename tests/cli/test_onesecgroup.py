"""`onesecgroup` against a live portal: create, list, show, update, delete; bad rules are the
API's 400 and change nothing; another user's group is not found."""

import pytest

from cli import onesecgroup
from jobs.states import JobState
from provisions.choices import JobKind, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]


def run(capsys, *argv):
    code = onesecgroup.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def dc(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    return cluster


def finish_jobs():
    Job.objects.filter(kind=JobKind.FIREWALL).update(state=JobState.SUCCESS)


def test_create_list_show_update_delete(cli_env, capsys, dc):
    code, out, err = run(
        capsys, "create", "dc", "web", "--rule", "tcp:8080:203.0.113.0/24,2001:db8::/32"
    )
    assert (code, err) == (0, "")
    group = SecurityGroup.objects.get()
    assert out == f"ID: {group.pk}\n"
    assert group.rules == [
        {
            "protocol": "tcp",
            "ports": "8080",
            "sources": {"addresses": ["203.0.113.0/24", "2001:db8::/32"]},
        }
    ]
    finish_jobs()
    code, out, _ = run(capsys, "list")
    assert code == 0 and "web" in out and "dc" in out
    code, out, _ = run(capsys, "show", "web")
    assert code == 0
    assert "SECURITY GROUP" in out and "203.0.113.0/24, 2001:db8::/32" in out
    assert run(capsys, "update", "web", "--rule", "icmp::0.0.0.0/0") == (0, "", "")
    group.refresh_from_db()
    assert group.rules == [
        {"protocol": "icmp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0"]}}
    ]
    finish_jobs()
    assert run(capsys, "delete", str(group.pk)) == (0, "", "")
    assert not SecurityGroup.objects.exists()
    assert Job.objects.filter(kind=JobKind.FIREWALL, state=JobState.QUEUED).count() == 1


def test_a_bad_rule_is_refused_and_nothing_is_saved(cli_env, capsys, dc):
    code, out, err = run(capsys, "create", "dc", "web", "--rule", "tcp:70000:0.0.0.0/0")
    assert (code, out) == (1, "")
    assert "port 70000 is out of range" in err
    code, _, err = run(capsys, "create", "dc", "web", "--rule", "tcp-8080")
    assert code == 1 and "is not PROTOCOL:PORTS:SOURCES" in err
    assert not SecurityGroup.objects.exists()


def test_another_users_group_is_not_found(cli_env, capsys, dc, outsider):
    from provisions.models import Provision

    theirs = Provision.objects.create(
        name="theirs", provider=dc.provider, owner=outsider, state="RUNNING", size="s", image="i"
    )
    group = SecurityGroup.objects.create(provision=theirs, name="private", rules=[])
    code, _, err = run(capsys, "show", str(group.pk))
    assert code == 1 and f"security group {group.pk} not found" in err
    code, _, err = run(capsys, "delete", str(group.pk))
    assert code == 1
    assert SecurityGroup.objects.filter(pk=group.pk).exists()


def test_help_lists_every_verb(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for verb in ("list", "show", "create", "update", "delete"):
        assert verb in out


def test_update_with_nothing_to_change_is_refused(cli_env, capsys, dc):
    group = SecurityGroup.objects.create(provision=dc, name="web", rules=[])
    code, _, err = run(capsys, "update", str(group.pk))
    assert code == 1 and "nothing to update" in err
