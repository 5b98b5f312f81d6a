"""onetemplate, onevm and onemarketapp against a live portal: output, tenancy and bad input."""

import re

import pytest

from cli import onemarketapp, onetemplate, onevm
from core.models import ApiToken
from marketplace.models import MarketplaceApp
from tests.cli.helpers import run_cli
from vms.models import VM, PortBlock, VMTemplate

pytestmark = pytest.mark.django_db(transaction=True)

HOST_IP = "127.18.0.9"


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    # Deploy jobs are queued, never run: no host exists behind the cluster.
    settings.JOBS_SYNC = False


@pytest.fixture
def vm_id(cli_env, capsys, template):
    code, out, err = run_cli(
        capsys, onetemplate, "instantiate", "Alpine", "--name", "web", "--nic", "dc-public"
    )
    assert (code, err) == (0, "")
    return VM.objects.get(name="web").pk


@pytest.fixture
def as_outsider(cli_env, outsider, monkeypatch):
    _, raw = ApiToken.issue(outsider, "x")
    monkeypatch.setenv("PORTAL_TOKEN", raw)


def test_template_list_and_show(cli_env, capsys, template):
    code, out, err = run_cli(capsys, onetemplate, "list")
    header, row = out.splitlines()
    assert (code, err) == (0, "")
    assert header.split() == ["ID", "NAME", "IMAGE", "CPU", "MEMORY"]
    assert row.split() == [str(template.pk), "Alpine", "Alpine", "1.00", "256M"]
    code, out, err = run_cli(capsys, onetemplate, "show", "Alpine")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"TEMPLATE {template.pk} INFORMATION"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "ID",
        "NAME",
        "IMAGE",
        "CPU",
        "MEMORY",
        "CPU_QUOTA",
        "PIDS_MAX",
        "SWAP",
        "DISK",
        "LXC_UNPRIVILEGED",
        "RECOVERY",
        "NICS",
    ]
    assert re.search(r"MEMORY +: 256M", out) and "LXC_UNPRIVILEGED : yes" in out
    assert re.search(r"RECOVERY +: restore", out)
    assert run_cli(capsys, onetemplate, "show", str(template.pk))[1] == out


def test_instantiate_prints_the_vm_id_and_queues_it(vm_id, capsys):
    vm = VM.objects.get(pk=vm_id)
    assert vm.state == "PENDING" and vm.host.public_ip == HOST_IP
    assert PortBlock.objects.filter(nic__vm=vm).count() == 1


def test_instantiate_output_is_exactly_the_id(cli_env, capsys, template):
    code, out, err = run_cli(
        capsys, onetemplate, "instantiate", str(template.pk), "--name", "a1", "--nic", "dc-public"
    )
    assert (code, out, err) == (0, f"VM ID: {VM.objects.get(name='a1').pk}\n", "")


def test_vm_list_and_show(vm_id, capsys):
    vm = VM.objects.get(pk=vm_id)
    code, out, err = run_cli(capsys, onevm, "list")
    header, row = out.splitlines()
    assert (code, err) == (0, "")
    assert header.split() == ["ID", "USER", "GROUP", "NAME", "STAT", "UCPU", "UMEM", "HOST", "TIME"]
    # Not yet seen by monitoring: no UCPU/UMEM; made just now: 0d 00h00.
    assert row.split() == [
        str(vm_id),
        "alice",
        "alice",
        "web",
        "pend",
        "-",
        "-",
        vm.host.name,
        "0d",
        row.split()[-1],
    ]
    assert row.split()[-1].startswith("00h")  # made moments ago
    code, out, err = run_cli(capsys, onevm, "show", "web")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"VIRTUAL MACHINE {vm_id} INFORMATION"
    block = PortBlock.objects.get(nic__vm=vm)
    for text in (
        "STATE",
        "PENDING",
        f"{vm.host.name} ({HOST_IP})",
        "TEMPLATE",
        f"NIC0 EXTERNAL_PORT_RANGE : {block.external_range}",
        f"NIC0 INTERNAL_PORT_RANGE : {block.internal_range}",
    ):
        assert text in out, text
    lines = out.splitlines()
    nics = lines.index("VM NICS")
    assert lines[nics + 1].split() == ["ID", "NETWORK", "TYPE", "IP", "MAC"]
    assert lines[nics + 2].split() == ["0", "dc-public", "public", vm.nics.get().ip, "-"]
    sections = [line for line in out.splitlines() if line.isupper() and ":" not in line]
    assert sections[:2] == [f"VIRTUAL MACHINE {vm_id} INFORMATION", "VIRTUAL MACHINE MONITORING"]
    assert "VM NICS" in sections and sections[-1] == "USER TEMPLATE"
    assert run_cli(capsys, onevm, "show", str(vm_id))[1] == out


def test_port_forward_maps_a_port_before_deploy(vm_id, capsys):
    block = PortBlock.objects.get(nic__vm_id=vm_id)
    code, out, err = run_cli(capsys, onevm, "port-forward", str(vm_id), "80")
    assert (code, out, err) == (0, f"{HOST_IP}@{block.first_port + 79} -> 80\n", "")
    assert block.block == 0 and out == f"{HOST_IP}@9080 -> 80\n"
    code, out, _ = run_cli(capsys, onevm, "port-forward", "web")
    assert (code, out) == (0, f"{HOST_IP}@9001-9100 -> 1-100\n")


def test_port_forward_outside_the_range_is_a_clear_error(vm_id, capsys):
    code, out, err = run_cli(capsys, onevm, "port-forward", str(vm_id), "101")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "port 101 is outside the forwarded range 1-100" in err


def test_marketapp_list_and_show(cli_env, capsys, app):
    code, out, err = run_cli(capsys, onemarketapp, "list")
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0].split() == ["ID", "NAME", "VERSION", "OS", "STATE", "MARKET"]
    assert len(lines) - 1 == MarketplaceApp.objects.count()
    alpine = next(line for line in lines if "Alpine Linux 3.13" in line)
    assert alpine.split()[0] == str(app.pk) and "READY" in alpine and "Linux Containers" in alpine
    debian = next(line for line in lines if "Debian 12" in line)
    assert "UNSYNCED" in debian
    code, out, err = run_cli(capsys, onemarketapp, "show", "Alpine Linux 3.13")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"MARKETPLACE APP {app.pk} INFORMATION"
    for text in (
        "VERSION     : 3.13",
        "STATE       : READY",
        "SOURCE      : http://images.example/alpine.tar.xz",
        f"SHA256      : {'a' * 64}",
        "SIZE        : 2800000",
        "OS          : alpine 3.13",
    ):
        assert text in out, text


def test_template_delete(cli_env, capsys, template):
    code, out, err = run_cli(capsys, onetemplate, "delete", "Alpine")
    assert (code, out, err) == (0, "", "")
    assert not VMTemplate.objects.filter(pk=template.pk).exists()
    code, _, err = run_cli(capsys, onetemplate, "show", "Alpine")
    assert code == 1 and "template 'Alpine' not found" in err


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        (onevm, ["show", "{id}"]),
        (onevm, ["terminate", "web"]),
        (onevm, ["port-forward", "{id}"]),
        (onevm, ["port-forward", "{id}", "80"]),
        (onetemplate, ["show", "Alpine"]),
    ],
)
def test_outsider_gets_not_found(vm_id, as_outsider, capsys, module, argv):
    code, out, err = run_cli(capsys, module, *[arg.format(id=vm_id) for arg in argv])
    assert code == 1 and out == "" and "not found" in err and err.count("\n") == 1
    vm = VM.objects.get(pk=vm_id)
    assert vm.state == "PENDING" and not vm.log.filter(message__contains="terminate").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Nope", "--name", "ok", "--nic", "dc-public"], "template 'Nope' not found"),
        (
            ["Alpine", "--name", "x;reboot", "--nic", "dc-public"],
            "'x;reboot' is not a valid VM name",
        ),
        (["Alpine", "--name", "ok", "--nic", "nope"], "network 'nope' not found"),
    ],
)
def test_bad_instantiate_is_one_clear_line_and_creates_nothing(
    cli_env, capsys, template, argv, message
):
    code, out, err = run_cli(capsys, onetemplate, "instantiate", *argv)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1
    assert err.startswith("onetemplate: ")
    assert not VM.objects.exists() and not PortBlock.objects.exists()


def test_vm_list_takes_ucpu_and_umem_from_the_newest_sample(vm_id, capsys):
    from django.utils import timezone

    from monitoring.models import VMSample

    now = timezone.now()
    for minutes, cpu, memory in ((2, 80.0, 100.0), (1, 12.4, 48.5)):
        VMSample.objects.create(
            vm_id=vm_id,
            at=now - timezone.timedelta(minutes=minutes),
            cpu_seconds=1.0,
            cpu_percent=cpu,
            memory_mb=memory,
            net_rx_bytes=0,
            net_tx_bytes=0,
        )
    row = run_cli(capsys, onevm, "list")[1].splitlines()[1].split()
    assert row[5:7] == ["12", "48.5M"]


def test_time_column_is_opennebulas_days_hours_minutes():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 3, 4, 7, 30, tzinfo=UTC)
    assert onevm.elapsed("2026-01-01T01:02:00Z", now) == "2d 03h05"
    assert onevm.elapsed("2026-01-03T04:07:00+00:00", now) == "0d 00h00"
