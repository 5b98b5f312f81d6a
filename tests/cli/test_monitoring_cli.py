"""The CLI's monitoring faces against a live portal: `onevm show`'s VIRTUAL MACHINE
MONITORING section, `oneprovision repair` and what `oneprovision show` says of drift and hosts."""

import pytest

from cli import oneprovision, onevm
from core.models import ApiToken
from provisions.choices import HostProblem, HostState, JobKind
from provisions.models import Job, Provision
from tests.cli.helpers import run_cli
from tests.monitoring.conftest import MIB, vm_samples
from vms import services as vm_services

pytestmark = pytest.mark.django_db(transaction=True)

DRIFT = "dc-host-1: droplet deleted outside the portal (droplet 12)"


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False


@pytest.fixture
def vm(cli_env, owner, template):
    return vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])


@pytest.fixture
def drifted(cli_env, cluster):
    Provision.objects.filter(pk=cluster.pk).update(drift=[DRIFT])
    cluster.hosts.filter(name="dc-host-1").update(
        state=HostState.ERROR,
        problem=HostProblem.DROPLET_GONE,
        last_error="droplet deleted outside the portal",
        failed_probes=3,
    )
    return cluster


def section(out, title):
    lines = out.split(title + "\n", 1)[1].splitlines()
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines[:4])}


def test_onevm_show_has_the_monitoring_section_of_the_latest_sample(vm, capsys):
    vm_samples(vm, [(3.0, 20.0, 1000, 10), (12.5, 24.3, int(1.2 * MIB), 2048)])
    code, out, err = run_cli(capsys, onevm, "show", "web")
    assert (code, err) == (0, "")
    assert "\n\nVIRTUAL MACHINE MONITORING\n" in out
    assert section(out, "VIRTUAL MACHINE MONITORING") == {
        "CPU": "12.5",
        "MEMORY": "24.3M",
        "NETRX": "1.2M",
        "NETTX": "2.0K",
    }
    assert out.index("VIRTUAL MACHINE MONITORING") > out.index("INFORMATION")


def test_onevm_show_before_monitoring_saw_the_vm_prints_dashes(vm, capsys):
    code, out, _ = run_cli(capsys, onevm, "show", str(vm.pk))
    assert code == 0
    assert set(section(out, "VIRTUAL MACHINE MONITORING").values()) == {"-"}


def test_oneprovision_repair_with_nothing_to_repair_is_one_clear_line(cli_env, cluster, capsys):
    code, out, err = run_cli(capsys, oneprovision, "repair", "dc")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "nothing to repair" in err and err.startswith("oneprovision: ")
    assert not Job.objects.filter(kind=JobKind.REPAIR).exists()


def test_oneprovision_repair_queues_a_repair_job(drifted, capsys):
    code, out, err = run_cli(capsys, oneprovision, "repair", str(drifted.pk))
    assert (code, out, err) == (0, "", "")
    assert Job.objects.get(provision=drifted, kind=JobKind.REPAIR).created_by.username == "alice"


def test_oneprovision_show_prints_drift_and_host_problems(drifted, capsys):
    code, out, err = run_cli(capsys, oneprovision, "show", "dc")
    assert (code, err) == (0, "")
    assert f"DRIFT (oneprovision repair mends it)\n  {DRIFT}\n" in out
    problems = out.split("HOST PROBLEMS\n")[1].split("\n\n")[0].splitlines()
    assert problems[0].split() == ["ID", "NAME", "STATE", "PROBLEM", "FAILED_PROBES", "ERROR"]
    assert problems[1].split()[1:5] == ["dc-host-1", "ERROR", "droplet_gone", "3"]
    assert len(problems) == 2  # the healthy host is not listed


def test_oneprovision_show_of_a_healthy_provision_has_no_drift_or_problems(
    cli_env, cluster, capsys
):
    code, out, _ = run_cli(capsys, oneprovision, "show", "dc")
    assert code == 0 and "DRIFT" not in out and "HOST PROBLEMS" not in out


def test_outsider_gets_not_found_for_repair_and_vm_monitoring(
    drifted, vm, outsider, monkeypatch, capsys
):
    _, raw = ApiToken.issue(outsider, "x")
    monkeypatch.setenv("PORTAL_TOKEN", raw)
    for module, argv in (
        (oneprovision, ["repair", str(drifted.pk)]),
        (onevm, ["show", str(vm.pk)]),
    ):
        code, out, err = run_cli(capsys, module, *argv)
        assert code == 1 and out == "" and "not found" in err, argv
    assert not Job.objects.filter(kind=JobKind.REPAIR).exists()
