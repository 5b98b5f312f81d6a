"""Placement by capacity in the lab: a VM that fits on no host waits PENDING with the reason,
and becomes RUNNING on its own once another VM's end makes room, its port block and container
address given then."""

import pytest

from core.quotas import Quota
from tests.lab.helpers import in_vm
from vms import capacity
from vms import services as vm_services
from vms.models import VM, PortBlock, VMTemplate

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def test_vm_waits_for_room_then_runs_when_a_vm_ends(cluster_with_vms, owner):
    provision, (first, second) = cluster_with_vms
    host = provision.hosts.get()
    free = capacity.free(host)["memory"]
    # Just more than the host has left, and less than it will have once `first` ends.
    asked = int(free) + first.memory_mb // 2
    VMTemplate.objects.filter(name="Alpine").update(memory_mb=asked)
    Quota.objects.create(user=owner, vms=10, cpu=100, memory_mb=asked + 4096)

    big = vm_services.instantiate(owner, "Alpine", name="big", nics=["mon-public"])
    big.refresh_from_db()
    assert (big.state, big.host) == ("PENDING", None)
    assert big.placement_reason == (
        f"no host with {asked} MiB memory free: largest free {int(free)} MiB on {host.name}"
    )
    assert not PortBlock.objects.filter(nic__vm=big).exists()

    vm_services.act(owner, first, "terminate")  # jobs run inline here: terminate, then deploy
    big.refresh_from_db()
    assert VM.objects.get(pk=first.pk).state == "DONE"
    assert (big.state, big.host_id, big.placement_reason) == ("RUNNING", host.pk, "")
    assert PortBlock.objects.filter(nic__vm=big).exists()
    assert in_vm(big, "echo placed").stdout.strip() == "placed"
