"""The monitoring cycle without hosts: probes replaced at their one symbol (monitoring.cycle.
probe) by readings or failures; tests/lab has the real thing. States move as OpenNebula's do,
only with history rows from `monitor`, and never while a job changed the VM meanwhile."""

import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

from core.transitions import InvalidTransition, transition
from hostexec.ssh import HostUnreachable
from monitoring import cycle
from monitoring.models import HostSample, VMSample
from monitoring.probe import ProbeError, parse
from provisions.choices import HostProblem, HostState
from tests.monitoring.conftest import container, reading
from vms.models import VM

pytestmark = pytest.mark.django_db


def events(vm):
    return list(vm.events.values_list("source", "from_state", "to_state"))


def test_parse_reads_the_probe_script_output():
    got = parse(
        "HOST 1000 800 0.25 2097152 1048576 10240000 2048000\n"
        "CT one-7 RUNNING 1500000000 25165824 4096 2048 10240\n"
        "CT one-8 STOPPED 0 0 0 0 -\nDONE\n"
    )
    assert (got.memory_total_mb, got.memory_used_mb, got.disk_used_mb) == (2048, 1024, 2000)
    assert got.containers["one-7"].cpu_seconds == 1.5
    assert got.containers["one-7"].memory_mb == 24.0
    assert got.containers["one-8"].state == "STOPPED"


@pytest.mark.parametrize("output", ["", "HOST 1 2 3\nDONE", "HOST a b c d e f g\nDONE"])
def test_parse_refuses_output_it_cannot_read(output):
    with pytest.raises(ProbeError):
        parse(output)


def test_container_stopped_behind_the_portals_back_is_poweroff_then_running(world, probes):
    vm, host = world["vm"], world["host"]
    probes[host.pk] = reading([container(vm, "STOPPED")])
    cycle.run_cycle(with_drift=False)
    vm.refresh_from_db()
    assert vm.state == "POWEROFF"
    assert vm.events.last().reason == "container stopped outside the portal"
    probes[host.pk] = reading([container(vm, "RUNNING")])
    cycle.run_cycle(with_drift=False)
    vm.refresh_from_db()
    assert vm.state == "RUNNING"
    assert events(vm)[-2:] == [
        ("monitor", "RUNNING", "POWEROFF"),
        ("monitor", "POWEROFF", "RUNNING"),
    ]


def test_container_gone_is_unknown_with_the_reason_in_the_vm_log(world, probes):
    vm = world["vm"]
    probes[world["host"].pk] = reading([])
    cycle.run_cycle(with_drift=False)
    vm.refresh_from_db()
    assert vm.state == "UNKNOWN"
    assert f"container {vm.container_name} not found" in vm.log.last().message


def test_unreachable_host_is_error_after_n_cycles_and_heals_when_it_answers(world, probes):
    vm, host = world["vm"], world["host"]
    probes[host.pk] = HostUnreachable("cannot reach 127.18.0.9:22: connection refused")
    cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    assert host.state == HostState.RUNNING and host.failed_probes == 1  # one miss is not an outage
    cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    vm.refresh_from_db()
    assert (host.state, host.problem) == (HostState.ERROR, HostProblem.UNREACHABLE)
    assert "connection refused" in host.last_error
    assert vm.state == "UNKNOWN"
    assert host.events.last().source == "monitor"

    probes[host.pk] = reading([container(vm)])
    cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    vm.refresh_from_db()
    assert (host.state, host.problem, host.failed_probes) == (HostState.RUNNING, "", 0)
    assert vm.state == "RUNNING"
    assert [e.to_state for e in host.events.all()] == ["ERROR", "RUNNING"]


@pytest.mark.django_db(transaction=True)  # the probe runs in a thread with its own connection
def test_a_change_made_by_a_job_since_the_probe_wins(world, probes, monkeypatch):
    vm = world["vm"]

    def probe_while_user_powers_off(h):
        # The user's poweroff lands while the probe is on the wire, seeing it still running.
        # Probed once per host, in parallel: the first probe's thread powers it off.
        for running in VM.objects.filter(pk=vm.pk, state="RUNNING"):
            with contextlib.suppress(InvalidTransition):
                transition(running, "POWEROFF", {"RUNNING"}, source="job")
        return reading([container(vm, "RUNNING")])

    monkeypatch.setattr(cycle, "probe", probe_while_user_powers_off)
    cycle.run_cycle(with_drift=False)
    vm.refresh_from_db()
    assert vm.state == "POWEROFF"
    assert events(vm) == [("job", "RUNNING", "POWEROFF")]


def test_vms_a_job_is_working_on_are_left_alone(world, probes):
    vm = world["vm"]
    VM.objects.filter(pk=vm.pk).update(state="BOOT")
    probes[world["host"].pk] = reading([])
    cycle.run_cycle(with_drift=False)
    vm.refresh_from_db()
    assert vm.state == "BOOT" and not vm.events.exists()


def test_samples_give_cpu_percent_from_consecutive_counters(world, probes):
    vm, host = world["vm"], world["host"]
    probes[host.pk] = reading([container(vm, cpu=10.0)], total=1000, idle=800)
    cycle.run_cycle(with_drift=False)
    first = VMSample.objects.get(vm=vm)
    assert first.cpu_percent is None  # nothing to compare with yet
    VMSample.objects.filter(pk=first.pk).update(at=first.at - timedelta(seconds=10))
    HostSample.objects.filter(host=host).update(at=first.at - timedelta(seconds=10))
    probes[host.pk] = reading([container(vm, cpu=15.0)], total=2000, idle=1300)
    cycle.run_cycle(with_drift=False)
    latest = VMSample.objects.filter(vm=vm).last()
    assert latest.cpu_percent == pytest.approx(50.0, abs=1.0)  # 5 CPU-s in ~10 s
    assert HostSample.objects.filter(host=host).last().cpu_percent == 50.0  # 500 of 1000 busy
    assert HostSample.objects.filter(host=host).last().vms_running == 1


def test_samples_past_the_retention_are_dropped(world, probes, settings):
    settings.MONITOR_RETENTION_HOURS = 24
    host = world["host"]
    old = timezone.now() - timedelta(hours=25)
    HostSample.objects.create(
        host=host,
        at=old,
        cpu_total_ticks=1,
        cpu_idle_ticks=1,
        load1=0,
        memory_total_mb=1,
        memory_used_mb=1,
        disk_total_mb=1,
        disk_used_mb=1,
    )
    report = cycle.run_cycle(with_drift=False)
    assert report.pruned == 1
    assert not HostSample.objects.filter(at__lt=timezone.now() - timedelta(hours=24)).exists()


def test_monitoring_never_acts_on_a_host_whose_probe_output_is_garbage(world, probes):
    host = world["host"]
    probes[host.pk] = ProbeError("probe output incomplete")
    for _ in range(3):
        cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    assert host.state == HostState.ERROR and "incomplete" in host.last_error
