"""`oneprovision host ssh PROVISION HOST -- CMD`: one command on a host, for operators, over the
portal's connection to it (replaced here at its one symbol; tests/lab/test_droplet_suite.py runs
it on a real droplet), audited as a console session."""

from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from cli import oneprovision
from consoles.api import views
from consoles.models import ConsoleSession
from core.models import ApiToken
from hostexec.ssh import HostUnreachable

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_runs(monkeypatch):
    """The commands the fake host ran; it answers each with `ran <command>` and status 3."""
    ran = []

    class Session:
        def run(self, command, timeout, check):
            ran.append(command)
            return SimpleNamespace(exit_status=3, stdout=f"ran {command}\n", stderr="")

    @contextmanager
    def warm_session(host, wait):
        if host.public_ip == "127.18.0.99":
            raise HostUnreachable(f"{host.public_ip}: no route")
        yield Session()

    monkeypatch.setattr(views, "warm_session", warm_session)
    return ran


def test_an_operator_runs_one_command_quoted_and_it_is_audited(operator_api, cluster, host_runs):
    host = cluster.hosts.first()
    response = operator_api.post(
        f"/api/hosts/{host.pk}/exec/", {"command": ["cat", "/etc/os-release; id"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["exit_status"] == 3
    assert host_runs == ["cat '/etc/os-release; id'"]
    audit = ConsoleSession.objects.get()
    assert (audit.host_id, audit.via, audit.exit_status) == (host.pk, "CLI", 3)
    assert audit.ended_at is not None and audit.end_reason == "EXITED"
    assert "os-release" not in audit.target  # what ran is not kept, only that it did


def test_a_self_service_user_is_told_the_host_does_not_exist(api, cluster, host_runs):
    host = cluster.hosts.first()
    response = api.post(f"/api/hosts/{host.pk}/exec/", {"command": ["id"]}, format="json")
    assert response.status_code == 404
    assert host_runs == [] and not ConsoleSession.objects.exists()


@pytest.mark.parametrize("body", [{}, {"command": []}, {"command": "id"}, {"command": [1, None]}])
def test_a_bad_command_is_refused_and_nothing_runs(operator_api, cluster, host_runs, body):
    host = cluster.hosts.first()
    response = operator_api.post(f"/api/hosts/{host.pk}/exec/", body, format="json")
    assert response.status_code == 400, response.content
    assert host_runs == [] and not ConsoleSession.objects.exists()


def test_an_unreachable_host_is_a_502_and_the_audit_says_so(operator_api, cluster, host_runs):
    host = cluster.hosts.first()
    cluster.hosts.filter(pk=host.pk).update(public_ip="127.18.0.99")
    response = operator_api.post(f"/api/hosts/{host.pk}/exec/", {"command": ["id"]}, format="json")
    assert response.status_code == 502 and "no route" in response.json()["detail"]
    assert ConsoleSession.objects.get().end_reason == "HOST_UNREACHABLE"


def test_the_cli_prints_the_output_and_exits_with_the_commands_status(
    cli_env, operator, cluster, host_runs, monkeypatch, capsys
):
    cluster.owner = operator
    cluster.save(update_fields=["owner"])
    monkeypatch.setenv("PORTAL_TOKEN", ApiToken.issue(operator, "ops")[1])
    host = cluster.hosts.order_by("id").first()
    argv = ["host", "ssh", "dc", host.name, "--", "systemctl", "is-active", "frr"]
    code = oneprovision.main(argv)
    assert code == 3
    assert capsys.readouterr().out == "ran systemctl is-active frr\n"
