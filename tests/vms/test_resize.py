"""`onevm resize`: bounds, quota, host room, memory in use, tenancy, states and jobs, the values
the host script gets and the portal keeps; the API, the CLI and the page. The host is replaced
at its one symbol (vms.lxc.warm_session); tests/lab/test_resize_lab.py resizes a real one."""

import re
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from cli import onevm
from core.quotas import Quota
from hostexec.ssh import CommandResult, HostUnreachable
from jobs.states import JobState
from monitoring.models import VMSample
from tests.cli.helpers import run_cli
from tests.concurrency import run_in_threads
from vms import lxc, resize, services
from vms.models import VM, VMJob

pytestmark = pytest.mark.django_db

REFUSAL = "REFUSED one-1 uses 300 MiB of memory now, more than the 128 MiB asked: free memory\n"


class FakeHost:
    """What vm-resize.sh would answer: status 0 with BEFORE/AFTER lines unless told otherwise;
    every environment it was given, in order."""

    def __init__(self):
        self.calls = []
        self.answer = None  # a CommandResult, or an exception to raise

    def run_script(self, script, env, timeout, check):
        assert "vm-resize.sh" not in script and "lxc-cgroup" in script  # the script's text
        self.calls.append(env)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer or CommandResult(
            0, f"BEFORE memory.max=1\nAFTER memory.max={env['MEMORY_MB']}\nDONE\n", ""
        )


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    settings.JOBS_SYNC = False


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost()

    @contextmanager
    def warm_session(host, wait):
        assert wait == 0  # the user waits: an unreachable host is an answer at once
        yield fake

    monkeypatch.setattr(lxc, "warm_session", warm_session)
    return fake


def running(owner, name="web"):
    vm = services.instantiate(owner, "Alpine", name=name, nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    vm.jobs.update(state=JobState.SUCCESS)
    vm.refresh_from_db()
    return vm


@pytest.fixture
def vm(owner, template):
    return running(owner)


def test_a_running_vm_is_resized_live_and_the_values_kept(owner, vm, host):
    resized = resize.resize(owner, vm, cpu="2", memory_mb=512)
    assert host.calls == [
        {
            "VM": vm.container_name,
            "MEMORY_MB": 512,
            "SWAP_MB": 0,
            "CPU_SHARES": 2048,
            "CPU_QUOTA_US": "",
        }
    ]
    assert (resized.cpu, resized.memory_mb, resized.cpu_quota) == (Decimal("2"), 512, None)
    lines = list(vm.log.values_list("message", flat=True))
    assert "resized (live): cpu 1 -> 2, memory 256 -> 512 MiB" in lines
    assert lines[-3:] == [
        f"{vm.host.name}: BEFORE memory.max=1",
        f"{vm.host.name}: AFTER memory.max=512",
        "resized (live): cpu 1 -> 2, memory 256 -> 512 MiB",
    ]


def test_any_subset_and_the_quota_set_and_cleared(owner, vm, host):
    assert resize.resize(owner, vm, cpu_quota="0.5").cpu_quota == Decimal("0.5")
    assert host.calls[-1]["CPU_QUOTA_US"] == 50000
    assert host.calls[-1]["MEMORY_MB"] == 256 and host.calls[-1]["CPU_SHARES"] == 1024
    assert resize.resize(owner, vm, memory_mb=300).cpu_quota == Decimal("0.5")
    assert host.calls[-1]["CPU_QUOTA_US"] == 50000
    assert resize.resize(owner, vm, cpu_quota=None).cpu_quota is None
    assert host.calls[-1]["CPU_QUOTA_US"] == ""
    assert "resized (live): cpu quota 0.5 -> none" in vm.log.values_list("message", flat=True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cpu": "0"}, "cpu"),
        ({"cpu": "0.001"}, "cpu"),
        ({"cpu": "300"}, "cpu"),
        ({"memory_mb": 8}, "memory_mb"),
        ({"memory_mb": "lots"}, "memory_mb"),
        ({"cpu_quota": "0"}, "cpu_quota"),
        ({}, None),
    ],
)
def test_out_of_bounds_is_refused_before_the_host(owner, vm, host, changes, field):
    with pytest.raises(ValidationError) as refused:
        resize.resize(owner, vm, **changes)
    assert (field or "nothing to resize") in str(refused.value)
    assert host.calls == []


def test_the_owners_quota_counts_the_vms_current_values(owner, vm, host):
    # One VM of one allowed: a resize adds no VM. 256 MiB in use, 512 allowed: 256 more fit.
    Quota.objects.create(user=owner, vms=1, cpu=2, memory_mb=512)
    assert resize.resize(owner, vm, memory_mb=512).memory_mb == 512
    with pytest.raises(
        ValidationError, match="user alice: MEMORY 512 MB of 512 MB used, this resize needs 1 MB"
    ):
        resize.resize(owner, vm, memory_mb=513)
    with pytest.raises(ValidationError, match="user alice: CPU 1 of 2 used, this resize needs 1.5"):
        resize.resize(owner, vm, cpu="2.5")
    # Shrinking is never refused by the quota, even one lowered below what is used.
    Quota.objects.filter(user=owner).update(memory_mb=100)
    assert resize.resize(owner, vm, memory_mb=300).memory_mb == 300
    assert len(host.calls) == 2


def test_the_hosts_free_room_bounds_growth(owner, vm, host):
    Quota.objects.create(user=owner, vms=10, cpu=100, memory_mb=100000)
    other = running(owner, "db")
    VM.objects.filter(pk=other.pk).update(host=vm.host)
    # 2048 MiB on the host less the 256 it keeps for itself, 512 reserved by the two VMs: this
    # VM may grow by 1280, not more.
    full = "dc-host-0 has 1280 MiB and 6 CPU free; the resize asks 1281 MiB and 0 CPU more"
    with pytest.raises(ValidationError, match=full):
        resize.resize(owner, vm, memory_mb=256 + 1281)
    assert host.calls == []
    assert resize.resize(owner, vm, memory_mb=256 + 1280).memory_mb == 1536
    room = resize.host_free(vm.host)
    assert (room.memory_mb, room.cpu) == (0, Decimal("6"))
    full = "has 0 MiB and 6 CPU free; the resize asks 0 MiB and 6.5 CPU more"
    with pytest.raises(ValidationError, match=full):
        resize.resize(owner, vm, cpu="7.5")


def test_shrinking_below_the_memory_in_use_is_refused(owner, vm, host):
    # The portal's own check, from monitoring's latest sample: the host is not asked.
    VMSample.objects.create(
        vm=vm, at=timezone.now(), cpu_seconds=1, memory_mb=200, net_rx_bytes=0, net_tx_bytes=0
    )
    with pytest.raises(ValidationError, match="uses 200 MiB of memory now, more than the 128"):
        resize.resize(owner, vm, memory_mb=128)
    assert host.calls == []
    # A sample older than two monitoring cycles is not believed; the host's check answers.
    VMSample.objects.update(at=timezone.now() - timedelta(minutes=5))
    host.answer = CommandResult(3, "BEFORE memory.limit_in_bytes=268435456\n", REFUSAL)
    with pytest.raises(ValidationError) as refused:
        resize.resize(owner, vm, memory_mb=128)
    assert refused.value.messages == [
        f"host {vm.host.name} refused: one-1 uses 300 MiB of memory now, more than the 128 MiB "
        "asked: free memory"
    ]
    vm.refresh_from_db()
    assert vm.memory_mb == 256
    assert not vm.log.filter(message__startswith="resized").exists()


def test_a_host_failure_saves_nothing(owner, vm, host):
    host.answer = CommandResult(1, "", "lxc-cgroup: failed to set memory.max\n")
    with pytest.raises(resize.HostFailed, match="status 1: lxc-cgroup: failed to set"):
        resize.resize(owner, vm, memory_mb=512)
    host.answer = HostUnreachable("cannot reach 127.18.0.9:22 over SSH")
    with pytest.raises(resize.HostFailed, match="cannot reach"):
        resize.resize(owner, vm, memory_mb=512)
    vm.refresh_from_db()
    assert vm.memory_mb == 256
    assert vm.log.filter(level="error", message__startswith="resize failed").count() == 2


def test_another_tenants_vm_is_a_404(outsider, vm, host):
    with pytest.raises(Http404):
        resize.resize(outsider, vm, memory_mb=512)
    assert host.calls == []


def test_states_and_jobs(owner, vm, host):
    VM.objects.filter(pk=vm.pk).update(state="POWEROFF")
    vm.refresh_from_db()
    resize.resize(owner, vm, memory_mb=512)
    assert vm.log.filter(message__startswith="resized (at its next start)").exists()
    for state in ("PENDING", "BOOT", "FAILURE", "UNKNOWN", "DONE"):
        VM.objects.filter(pk=vm.pk).update(state=state)
        with pytest.raises(ValidationError, match=f"is {state}; only a RUNNING or POWEROFF"):
            resize.resize(owner, vm, memory_mb=300)
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    services.act(owner, vm, "reboot")  # queued, not run
    with pytest.raises(ValidationError, match="has a reboot job QUEUED; resize it once"):
        resize.resize(owner, vm, memory_mb=300)
    VMJob.objects.filter(vm=vm).update(state=JobState.RUNNING)
    with pytest.raises(ValidationError, match="job RUNNING"):
        resize.resize(owner, vm, memory_mb=300)
    assert len(host.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_resizes_never_pass_the_quota_together(owner, template, host):
    Quota.objects.create(user=owner, vms=2, cpu=10, memory_mb=1024)
    vms = [running(owner, "a"), running(owner, "b")]

    # Each alone fits (256 + 640 = 896), both together would not (1280).
    errors = run_in_threads(lambda i: resize.resize(owner, vms[i], memory_mb=640), 2)

    assert len(errors) == 1 and "MEMORY" in str(errors[0])
    assert sorted(VM.objects.values_list("memory_mb", flat=True)) == [256, 640]
    assert len(host.calls) == 1


def test_api(api, outsider_api, vm, host):
    url = f"/api/vms/{vm.pk}/resize/"
    response = api.post(url, {"cpu": "1.5", "memory_mb": 384, "cpu_quota": "1"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["cpu"], body["memory_mb"], body["cpu_quota"]) == ("1.50", 384, "1.00")
    response = api.post(url, {"cpu_quota": None}, format="json")
    assert response.status_code == 200 and response.json()["cpu_quota"] is None
    refused = api.post(url, {"memory_mb": 4096}, format="json")
    assert refused.status_code == 400 and "free" in refused.json()["detail"]
    assert api.post(url, {"memory_mb": "x"}, format="json").status_code == 400
    assert outsider_api.post(url, {"memory_mb": 512}, format="json").status_code == 404
    host.answer = CommandResult(1, "", "lxc-cgroup: failed\n")
    failed = api.post(url, {"memory_mb": 512}, format="json")
    assert failed.status_code == 502 and "failed" in failed.json()["detail"]
    assert VM.objects.get(pk=vm.pk).memory_mb == 384
    assert len(host.calls) == 3


@pytest.mark.django_db(transaction=True)
def test_cli(cli_env, capsys, owner, template, host):
    vm = running(owner)
    code, out, err = run_cli(
        capsys, onevm, "resize", "web", "--cpu", "2", "--memory", "512", "--cpu-quota", "1.5"
    )
    assert (code, err) == (0, "")
    assert out == f"VM {vm.pk} (web): CPU 2.00, MEMORY 512M, CPU_QUOTA 1.50\n"
    code, out, err = run_cli(capsys, onevm, "resize", "web", "--cpu-quota", "none")
    assert (code, out) == (0, f"VM {vm.pk} (web): CPU 2.00, MEMORY 512M, CPU_QUOTA none\n")
    code, out, err = run_cli(capsys, onevm, "resize", "web", "--memory", "4096")
    assert code != 0 and "free" in err
    code, out, err = run_cli(capsys, onevm, "resize", "web")
    assert code == 2 and "give --cpu, --memory or --cpu-quota" in err
    code, out, err = run_cli(capsys, onevm, "show", "web")
    assert re.search(r"^CPU_QUOTA +: -$", out, re.M), out
    assert len(host.calls) == 2


def test_page(owner_client, outsider, vm, host):
    page = owner_client.get(f"/vms/{vm.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'hx-post="/vms/{vm.pk}/resize/"' in html
    assert 'name="resize-memory_mb" value="256"' in html
    assert 'name="resize-cpu" value="1.00"' in html

    form = {"resize-cpu": "2", "resize-memory_mb": "512", "resize-cpu_quota": ""}
    done = owner_client.post(f"/vms/{vm.pk}/resize/", form, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert "Resized: CPU 2.00, memory 512 MiB, CPU quota none." in done.content.decode()
    refused = owner_client.post(
        f"/vms/{vm.pk}/resize/", {**form, "resize-memory_mb": "4096"}, HTTP_HX_REQUEST="true"
    )
    assert "free" in refused.content.decode() and 'value="4096"' in refused.content.decode()
    # Without HTMX: a message on the VM's page.
    plain = owner_client.post(f"/vms/{vm.pk}/resize/", {**form, "resize-memory_mb": "384"})
    assert plain.status_code == 302
    assert VM.objects.get(pk=vm.pk).memory_mb == 384
    owner_client.force_login(outsider)
    assert owner_client.post(f"/vms/{vm.pk}/resize/", form).status_code == 404
    assert len(host.calls) == 2
