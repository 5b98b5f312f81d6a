"""`oneprovision delete` against a live portal: refused with live VMs (named), --cleanup,
--force for operators only."""

import pytest

from core.models import ApiToken
from provisions.choices import JobKind, ProvisionState
from provisions.models import Provision
from tests.cli.helpers import run_oneprovision
from vms import services as vms

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_jobs")]


def test_delete_is_refused_with_live_vms_then_cleanup_deletes(
    cli_env, capsys, owner, cluster, template
):
    vms.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    code, out, err = run_oneprovision(capsys, "delete", "dc")
    assert code == 1 and out == ""
    assert "still has 1 live VM(s): web" in err and "--cleanup" in err
    assert not cluster.jobs.filter(kind=JobKind.DELETE).exists()
    assert run_oneprovision(capsys, "delete", "dc", "--cleanup") == (0, "", "")
    assert cluster.jobs.get(kind=JobKind.DELETE).options == {"cleanup": True}


def test_force_is_refused_for_a_self_service_user(cli_env, capsys, cluster):
    Provision.objects.filter(pk=cluster.pk).update(state=ProvisionState.ERROR)
    code, _, err = run_oneprovision(capsys, "delete", "dc", "--force")
    assert code == 1 and "a forced delete is for operators" in err
    cluster.refresh_from_db()
    assert cluster.state == ProvisionState.ERROR


def test_operator_force_needs_error(cli_env, capsys, cluster, operator, monkeypatch):
    _, raw = ApiToken.issue(operator, "cli")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    code, _, err = run_oneprovision(capsys, "delete", str(cluster.pk), "--force")
    assert code == 1 and "only a provision in ERROR can be deleted with force" in err
