"""A lost host on real lab hosts, with real faults: its droplet deleted in DigitalOcean, or its
sshd killed (the droplet untouched). Monitoring cycles are run one at a time. A host back
within HOST_RECOVERY_CYCLES triggers nothing; a fencing DigitalOcean refuses moves nothing;
once fenced, the VM comes back RUNNING on the other host from its backup, the file it wrote
there with its checksum, answering on its new forwarded port."""

import shlex
import time

import pytest
import requests

from backups import services as backups
from monitoring.cycle import run_cycle
from provisions import services as provisions
from provisions.choices import HostProblem, HostState
from provisions.models import Host, Job
from tests.lab.conftest import lab_backup_store
from tests.lab.helpers import in_vm, on_host
from vms import services as vm_services
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recovery(settings):
    settings.VM_DISK_MB_DEFAULT = 128
    settings.HOST_RECOVERY_CYCLES = 3


def backed_up(owner, vm, object_store) -> str:
    """A file written in the VM and a backup of it taken; the file's checksum."""
    lab_backup_store(owner, object_store)
    in_vm(vm, "head -c 4000000 /dev/urandom > /data && sync")
    checksum = in_vm(vm, "sha256sum /data").stdout.split()[0]
    taken = backups.backup(owner, vm)
    taken.refresh_from_db()
    assert taken.state == "READY", taken.error
    return checksum


def answers_http(vm, text: str, seconds: float = 30.0) -> bool:
    loop = f'while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\n{text}" | nc -l -p 80; done'
    in_vm(vm, f"nohup sh -c {shlex.quote(loop)} >/dev/null 2>&1 &")
    address, port = vm_services.forwarded(vm, 80).split(" ")[0].split("@")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if text in requests.get(f"http://{address}:{port}/", timeout=3).text:
                return True
        except requests.RequestException:
            time.sleep(0.5)
    return False


def recovered(vm, lost: Host, checksum: str) -> VM:
    vm = VM.objects.select_related("host").get(pk=vm.pk)
    log = list(vm.log.values_list("message", flat=True))
    assert vm.state == "RUNNING" and vm.host_id != lost.pk, (vm.state, log[-8:])
    assert in_vm(vm, "sha256sum /data").stdout.split()[0] == checksum
    assert any("VERIFIED" in line for line in log), log[-8:]
    reasons = list(vm.events.values_list("reason", flat=True))
    assert any("lost and fenced; recovering by restore from backup" in r for r in reasons)
    return vm


@pytest.mark.hosts(2)
def test_sshd_killed_flapping_then_fencing_refused_then_recovered(
    recovery, cluster_with_vms, lab_world, owner, object_store
):
    provision, (vm, other) = cluster_with_vms
    assert vm.host_id != other.host_id
    lost = vm.host
    checksum = backed_up(owner, vm, object_store)
    sim = lab_world["sim"]
    lab = sim.server.lab_hosts

    # Flapping: sshd dies, the host is ERROR for two cycles, then answers again: nothing.
    lab.kill_sshd(lost.droplet_id)
    for _ in range(3):  # MONITOR_HOST_FAILURES (2) to ERROR, then one cycle in ERROR
        run_cycle()
    assert Host.objects.get(pk=lost.pk).state == HostState.ERROR
    lab.start_sshd(lost.droplet_id)
    run_cycle()
    assert Host.objects.get(pk=lost.pk).state == HostState.RUNNING
    assert not Job.objects.filter(kind="fence").exists()
    assert VM.objects.get(pk=vm.pk).host_id == lost.pk

    # Lost for good, and DigitalOcean refuses the power-off: the VM stays where it was.
    lab.kill_sshd(lost.droplet_id)
    sim.server.options.set_faults(errored_actions=True)
    for _ in range(5):
        run_cycle()
    fence = Job.objects.filter(kind="fence").latest("id")
    assert fence.state == "FAILED", fence.error
    held = VM.objects.get(pk=vm.pk)
    assert (held.state, held.host_id) == ("UNKNOWN", lost.pk)
    assert held.log.filter(message__contains="fencing its host").exists()

    # DigitalOcean powers it off: fenced at the next try, and the VM restored on the other host.
    sim.server.options.set_faults(errored_actions=False)
    for _ in range(4):  # tries after a refusal are spaced out (monitoring/lost.py)
        run_cycle()
        if Host.objects.get(pk=lost.pk).problem == HostProblem.FENCED:
            break
    host = Host.objects.get(pk=lost.pk)
    assert host.problem == HostProblem.FENCED, host.last_error
    droplet = requests.get(
        f"{sim.url}/v2/droplets/{lost.droplet_id}",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    ).json()["droplet"]
    assert droplet["status"] == "off"
    moved = recovered(vm, lost, checksum)
    assert moved.host_id == other.host_id
    block = vm_services.port_forwards(moved)[0]
    assert block["host_ip"] == other.host.public_ip and block["first_port"] != 9001
    assert answers_http(moved, "recovered")
    assert VM.objects.filter(name=vm.name).count() == 1

    # A Repair brings the fenced host back: the VM's old container there is destroyed before
    # anything starts, so it never runs twice; the host takes VMs again.
    lab.start_sshd(lost.droplet_id)
    provisions.repair_provision(owner, provision)  # the job runs inline here (JOBS_SYNC)
    host = Host.objects.get(pk=lost.pk)
    assert (host.state, host.problem) == (HostState.RUNNING, ""), host.last_error
    listing = on_host(provision, host, 'ls -1 "$ONE_EDGE_BASE/lxc"')
    assert vm.container_name not in listing.split(), listing
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"


@pytest.mark.hosts(2)
def test_droplet_deleted_behind_the_portal_is_fenced_and_its_vm_restored(
    recovery, cluster_with_vms, lab_world, owner, object_store
):
    provision, (vm, other) = cluster_with_vms
    lost = vm.host
    checksum = backed_up(owner, vm, object_store)
    sim = lab_world["sim"]
    response = requests.delete(
        f"{sim.url}/v2/droplets/{lost.droplet_id}",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert response.status_code == 204
    for _ in range(4):
        run_cycle()
    host = Host.objects.get(pk=lost.pk)
    jobs = list(Job.objects.values_list("kind", "state", "error"))
    assert host.problem == HostProblem.FENCED, (host.problem, host.error_cycles, jobs)
    assert "its droplet is gone" in host.last_error
    moved = recovered(vm, lost, checksum)
    assert answers_http(moved, "back")
    assert VM.objects.get(pk=other.pk).state == "RUNNING"
