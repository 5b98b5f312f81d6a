"""Monitoring against real lab hosts: containers stopped, started and destroyed behind the
portal's back, a host's sshd killed and restarted, a droplet deleted in DigitalOcean and the
cluster repaired. Cycles are run one at a time (what the supervisor does every interval), so
nothing waits for a real 30 s."""

import pytest
import requests

from monitoring.cycle import run_cycle
from monitoring.models import HostSample, VMSample
from provisions import services
from provisions.choices import HostProblem, HostState, ProvisionState
from tests.lab.helpers import host_output
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def lxc(vm, verb: str) -> None:
    flags = {"stop": "-k", "start": "", "destroy": "-f"}[verb]
    command = f'lxc-{verb} -P "$ONE_EDGE_BASE/lxc" -n {vm.container_name} {flags}'
    if verb == "destroy":
        # As an operator destroys one by hand: stopped, its disk unmounted (a stopped
        # container keeps it mounted, for an in-place reboot), then destroyed.
        directory = f'"$ONE_EDGE_BASE/lxc/{vm.container_name}"'
        command = (
            f'lxc-stop -P "$ONE_EDGE_BASE/lxc" -n {vm.container_name} -k; '
            f"umount {directory}/disk; {command}"
        )
    host_output(vm.host, command)


def state(vm) -> str:
    vm.refresh_from_db()
    return vm.state


def cycles_until(check, most: int = 2) -> int:
    """Run cycles until check() holds; how many it took (failing after `most`)."""
    for number in range(1, most + 1):
        run_cycle()
        if check():
            return number
    raise AssertionError(f"not reached within {most} cycles")


def test_containers_changed_behind_the_portals_back(cluster_with_vms):
    provision, (first, second) = cluster_with_vms
    run_cycle()
    assert state(first) == state(second) == "RUNNING"

    lxc(first, "stop")
    cycles_until(lambda: state(first) == "POWEROFF")
    assert first.events.last().source == "monitor"
    assert "stopped outside the portal" in first.events.last().reason

    lxc(first, "start")
    cycles_until(lambda: state(first) == "RUNNING")

    lxc(second, "destroy")
    cycles_until(lambda: state(second) == "UNKNOWN")
    assert f"{second.container_name} not found" in second.log.last().message
    assert state(first) == "RUNNING"

    # Usage was read from the containers' cgroups and the host's /proc.
    sample = VMSample.objects.filter(vm=first).last()
    assert sample.memory_mb > 0 and sample.cpu_seconds > 0
    host_sample = HostSample.objects.filter(host=first.host).last()
    assert host_sample.memory_total_mb > 0 and host_sample.cpu_percent is not None
    assert host_sample.vms_running == 1


def test_host_whose_sshd_dies_is_error_and_recovers_by_itself(cluster_with_vms, lab_world):
    provision, vms = cluster_with_vms
    host = provision.hosts.get()
    lab = lab_world["sim"].server.lab_hosts
    lab.kill_sshd(host.droplet_id)
    cycles_until(lambda: host.__class__.objects.get(pk=host.pk).state == HostState.ERROR)
    host.refresh_from_db()
    assert host.problem == HostProblem.UNREACHABLE
    assert all(state(vm) == "UNKNOWN" for vm in vms)
    assert provision.hosts.get().events.last().source == "monitor"

    lab.start_sshd(host.droplet_id)
    run_cycle()
    host.refresh_from_db()
    assert (host.state, host.problem) == (HostState.RUNNING, "")
    assert all(state(vm) == "RUNNING" for vm in vms)


@pytest.mark.hosts(2)
def test_droplet_deleted_in_digitalocean_is_drift_and_repair_restores_it(
    cluster_with_vms, lab_world, owner
):
    provision, vms = cluster_with_vms
    sim = lab_world["sim"]
    gone = provision.hosts.order_by("id").first()
    response = requests.delete(
        f"{sim.url}/v2/droplets/{gone.droplet_id}",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert response.status_code == 204
    run_cycle()
    gone.refresh_from_db()
    provision.refresh_from_db()
    assert (gone.state, gone.problem) == (HostState.ERROR, HostProblem.DROPLET_GONE)
    assert any("deleted outside the portal" in line for line in provision.drift)
    assert any(state(vm) == "UNKNOWN" for vm in vms if vm.host_id == gone.pk)

    services.repair_provision(owner, provision)  # the job runs inline here (JOBS_SYNC)
    provision.refresh_from_db()
    assert provision.state == ProvisionState.RUNNING, provision.error
    droplets = [d for d in sim.state_snapshot()["droplets"] if provision.tag in d.get("tags", [])]
    assert len(droplets) == 2
    assert {d["name"] for d in droplets} == set(provision.hosts.values_list("name", flat=True))
    assert set(provision.hosts.values_list("state", flat=True)) == {HostState.RUNNING}
    run_cycle()
    provision.refresh_from_db()
    assert provision.drift == []
    # The VM on the host that was lost stays UNKNOWN: its container went with the droplet,
    # and monitoring reports that rather than guessing.
    lost = [vm for vm in vms if vm.host_id == gone.pk]
    assert all(state(vm) == "UNKNOWN" for vm in lost)
    assert VM.objects.filter(host__provision=provision, state="RUNNING").count() == 2 - len(lost)
