"""A droplet that rebooted: monitoring sees a new boot id, puts the host in ERROR (problem
`rebooted`) without touching its VMs, and starts the provision's Repair; once the host is set up
again, the VMs that were running get a restart job. tests/lab/test_droplet_suite.py power-cycles
a real guest; here the probe is replaced at its one symbol."""

import dataclasses

import pytest

from core.transitions import transition
from monitoring import cycle
from monitoring.probe import parse
from provisions.choices import HostProblem, HostState, JobKind
from provisions.models import Host, Job
from tests.monitoring.conftest import container, reading
from vms import jobs as vm_jobs
from vms import recovery
from vms import services as vm_services
from vms.choices import VMState
from vms.models import VM, VMJob

pytestmark = pytest.mark.django_db


def booted(containers=(), boot_id="b" * 36):
    return dataclasses.replace(reading(containers), boot_id=boot_id)


def test_parse_reads_the_boot_id():
    got = parse("BOOT 0f4c2b8e-1111-2222-3333-444455556666\nHOST 1 1 0 1024 512 10 5\nDONE\n")
    assert got.boot_id == "0f4c2b8e-1111-2222-3333-444455556666"


def test_the_first_boot_id_seen_is_recorded_without_alarm(world, probes):
    host, vm = world["host"], world["vm"]
    probes[host.pk] = booted([container(vm)])
    cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    assert (host.state, host.boot_id) == (HostState.RUNNING, "b" * 36)
    assert not Job.objects.filter(kind=JobKind.REPAIR).exists()


def test_a_new_boot_id_is_a_reboot_the_vms_keep_their_state_and_a_repair_starts(world, probes):
    host, vm = world["host"], world["vm"]
    Host.objects.filter(pk=host.pk).update(boot_id="a" * 36)
    probes[host.pk] = booted([container(vm, state="STOPPED")])
    report = cycle.run_cycle(with_drift=False)
    host.refresh_from_db()
    assert (host.state, host.problem) == (HostState.ERROR, HostProblem.REBOOTED)
    assert host.boot_id == "b" * 36
    event = host.events.get()
    assert "rebooted" in event.reason and event.to_state == HostState.ERROR
    # Stopped by the reboot, not by anyone: not POWEROFF.
    assert VM.objects.get(pk=vm.pk).state == VMState.RUNNING
    assert report.repairs == 1
    assert Job.objects.filter(provision=host.provision, kind=JobKind.REPAIR).count() == 1

    # The next cycle, with the Repair still queued, starts no second one.
    cycle.run_cycle(with_drift=False)
    assert Job.objects.filter(provision=host.provision, kind=JobKind.REPAIR).count() == 1


def test_a_rebooted_host_whose_repair_has_not_run_is_repaired_by_a_later_cycle(world, probes):
    host, vm = world["host"], world["vm"]
    Host.objects.filter(pk=host.pk).update(
        state=HostState.ERROR, problem=HostProblem.REBOOTED, boot_id="b" * 36
    )
    probes[host.pk] = booted([container(vm, state="STOPPED")])
    assert cycle.run_cycle(with_drift=False).repairs == 1
    host.refresh_from_db()
    assert host.problem == HostProblem.REBOOTED  # only the Repair clears it


def test_only_vms_that_were_running_are_restarted(world, owner):
    host = world["host"]
    off = vm_services.instantiate(owner, "Alpine", name="off", nics=["dc-public"])
    lost = vm_services.instantiate(owner, "Alpine", name="lost", nics=["dc-public"])
    lost_off = vm_services.instantiate(owner, "Alpine", name="lost-off", nics=["dc-public"])
    VM.objects.filter(pk__in=[off.pk, lost.pk, lost_off.pk]).update(host=host)
    for vm, path in ((off, ["POWEROFF"]), (lost, ["RUNNING", "UNKNOWN"])):
        for state in path:
            transition(vm, state, set(VMState), source="job")
    for state in ("RUNNING", "POWEROFF", "UNKNOWN"):
        transition(lost_off, state, set(VMState), source="job")
    VMJob.objects.all().delete()

    assert recovery.restart_vms_on(host.provision, [host]) == 2
    restarted = set(VMJob.objects.filter(action="restart").values_list("vm__name", flat=True))
    assert restarted == {"web", "lost"}


def test_the_restart_job_runs_the_deploy_again_and_an_unknown_vm_is_running(world, monkeypatch):
    vm = world["vm"]
    transition(vm, VMState.UNKNOWN, {VMState.RUNNING}, source="monitor")
    deployed = []

    def deploy(vm, *args, existing_only=False, **kwargs):
        deployed.append((vm.pk, existing_only))
        return True

    monkeypatch.setattr(vm_jobs.lxc, "deploy", deploy)
    assert vm_jobs.run_vm_job(vm.pk, "restart") == "running"
    assert deployed == [(vm.pk, True)]
    vm.refresh_from_db()
    assert vm.state == VMState.RUNNING
    assert "started again" in vm.log.order_by("-id").first().message


@pytest.mark.parametrize("before", [VMState.RUNNING, VMState.UNKNOWN])
def test_a_restart_never_creates_a_container_the_replaced_droplet_lost(world, monkeypatch, before):
    vm = world["vm"]
    transition(vm, before, set(VMState), source="monitor")
    monkeypatch.setattr(vm_jobs.lxc, "deploy", lambda *a, **k: False)
    assert vm_jobs.run_vm_job(vm.pk, "restart") == "not restarted: container gone"
    vm.refresh_from_db()
    assert vm.state == VMState.UNKNOWN
    assert "restore it from a backup" in vm.log.order_by("-id").first().message
