"""Warm SSH in the lab: VM deploys and actions on one host reuse this process's one
connection to it (provisions/ssh_pool.py) instead of opening one each, and the host sees one
session from the portal, not one per operation."""

import pytest

from provisions import ssh_pool
from tests.lab.test_monitoring_lab import cluster_with_vms, on_host  # noqa: F401 - a fixture
from vms import services as vm_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def portal_connections(host) -> int:
    """Established SSH connections on the host, less the one this count itself uses."""
    out = on_host(host, "ss -Htn state established '( sport = :22 )' | wc -l")
    return int(out.strip()) - 1


def test_deploys_and_actions_on_one_host_share_one_connection(
    cluster_with_vms,  # noqa: F811 - the fixture imported above
    owner,
):
    provision, vms = cluster_with_vms
    host = provision.hosts.get()
    opened = ssh_pool.opened()
    more = [
        vm_services.instantiate(owner, "Alpine", name=f"warm{i}", nics=["mon-public"])
        for i in range(4)
    ]
    for vm in more:
        vm.refresh_from_db()
        assert vm.state == "RUNNING", vm.failure_reason
    vm_services.act(owner, more[0], "poweroff")
    more[0].refresh_from_db()
    assert more[0].state == "POWEROFF", more[0].failure_reason
    vm_services.act(owner, more[0], "resume")
    more[0].refresh_from_db()
    assert more[0].state == "RUNNING", more[0].failure_reason
    # The fixture's two deploys opened the warm connection; these six operations opened none.
    assert ssh_pool.opened() == opened
    assert portal_connections(host) == 1
