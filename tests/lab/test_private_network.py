"""Private networking for real: a 2-host provision in the lab, one VM on each host with a NIC on
the VXLAN network, BGP-EVPN (FRR) carrying the VTEPs and MACs between the hosts."""

import pytest

from hostexec.ssh import HostSession
from lab.hosts import net
from marketplace import services as market
from marketplace import sync
from marketplace.models import Marketplace
from provisions import services as provisions
from tests.factories import make_provider
from tests.lab.helpers import wait_for
from vms import lxc
from vms import services as vms
from vms.models import Lease, PortBlock

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

VTYSH = '"$ONE_EDGE_BASE/frr/vtysh"'


def on_host(provision, host, command: str) -> str:
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect()
        result = session.run(command, check=False)
    return result.stdout + result.stderr


def evpn_macs(provision, host) -> str:
    return on_host(provision, host, f"{VTYSH} -c 'show bgp l2vpn evpn route type macip'")


def test_vms_on_two_hosts_reach_each_other_over_evpn(lab_world, owner):
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = provisions.create_provision(owner, provider=provider, name="pn", host_count=2)
    provision.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    hosts = list(provision.hosts.order_by("id"))
    private = provision.networks.get(name="pn-private")
    assert private.vni == 100 and private.address_range == "10.200.0.0/24"

    # FRR on both hosts: the first is the route reflector, the second its client.
    for host in hosts:
        summary = on_host(provision, host, f"{VTYSH} -c 'show bgp l2vpn evpn summary'")
        other = next(h for h in hosts if h != host)
        assert other.private_ip in summary, summary
        assert f"vni={private.vni}" in on_host(provision, host, "ip -d link show vxlan100") or (
            "vxlan id 100" in on_host(provision, host, "ip -d link show vxlan100")
        )
    config = on_host(provision, hosts[0], 'cat "$ONE_EDGE_BASE/frr/frr.conf"')
    assert "route-reflector-client" in config
    assert "route-reflector-client" not in on_host(
        provision, hosts[1], 'cat "$ONE_EDGE_BASE/frr/frr.conf"'
    )
    # No static flood list: the remote VTEP in the FDB comes from an EVPN type-3 route.
    wait_for(
        lambda: (
            hosts[1].private_ip
            in on_host(provision, hosts[0], "bridge fdb show dev vxlan100 | grep 00:00:00:00:00:00")
        ),
        "host 0 to learn host 1's VTEP through EVPN",
    )

    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    market.export_app(owner, lab_world["image"].name, "Alpine", "pn-image")
    one = vms.instantiate(owner, "Alpine", name="one", nics=["pn-public", "pn-private"])
    two = vms.instantiate(owner, "Alpine", name="two", nics=["pn-private"])
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.state, two.state) == ("RUNNING", "RUNNING"), (
        one.failure_reason,
        two.failure_reason,
    )
    assert one.host_id != two.host_id, "the scheduler should spread the two VMs"
    ip_one = one.nics.get(network=private).ip
    ip_two = two.nics.get(network=private).ip
    assert {ip_one, ip_two} == {"10.200.0.1", "10.200.0.2"}
    assert set(Lease.objects.filter(network=private).values_list("ip", flat=True)) == {
        ip_one,
        ip_two,
    }

    # Each VM reaches the other over the private addresses (VXLAN across the two hosts).
    for vm, target in ((one, ip_two), (two, ip_one)):
        result = lxc.execute(vm, ["ping", "-c", "3", "-W", "2", target], timeout=30)
        assert result.exit_status == 0, result.stdout + result.stderr

    # The EVPN type-2 routes for both VMs' MACs are in FRR on both hosts.
    mac_one = one.nics.get(network=private).mac
    mac_two = two.nics.get(network=private).mac
    for host in hosts:
        routes = wait_for(
            lambda host=host: (
                (r := evpn_macs(provision, host)) and mac_one in r and mac_two in r and r
            ),
            f"both VMs' MACs in the EVPN table of {host.name}",
        )
        assert "[2]:" in routes

    # Another private network: every host gets its VXLAN device, bridge and VNI in FRR.
    backend = provisions.create_network(owner, provision, name="pn-backend")
    provision.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    for host in hosts:
        assert "vxlan id 101" in on_host(provision, host, "ip -d link show vxlan101")
        assert "onevx101" in on_host(provision, host, "ip -o link show type bridge")
        wait_for(
            lambda host=host: "101" in on_host(provision, host, f"{VTYSH} -c 'show evpn vni'"),
            f"VNI 101 in FRR on {host.name}",
        )
    assert backend.address_range == "10.201.0.0/24"

    # After one VM terminates its route is withdrawn everywhere; its address is free again.
    vms.act(owner, two, "terminate")
    two.refresh_from_db()
    assert two.state == "DONE"
    assert not Lease.objects.filter(nic__vm=two).exists()
    for host in hosts:
        wait_for(
            lambda host=host: mac_two not in evpn_macs(provision, host),
            f"the route of {mac_two} to be withdrawn on {host.name}",
        )
        assert mac_one in evpn_macs(provision, host)

    # Deleting the second network (no VM uses it) removes its segment from every host.
    provisions.delete_network(owner, backend)
    provision.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    for host in hosts:
        links = on_host(provision, host, "ip -o link show")
        assert "vxlan101" not in links and "onevx101" not in links
        assert "vxlan100" in links and "onevx100" in links
    assert mac_one in evpn_macs(provision, hosts[1])  # the other segment carries on

    # Delete with cleanup: the VM still running ends with its cluster, FRR stops and the VXLAN
    # devices go (logged), then no lab host, daemon or device is left.
    provisions.delete_provision(owner, provision, cleanup=True)
    provision.refresh_from_db()
    assert provision.state == "DONE", provision.error
    one.refresh_from_db()
    assert one.state == "DONE"
    assert not Lease.objects.filter(network__provision=provision).exists()
    assert not PortBlock.objects.filter(nic__vm=one).exists()
    log = "\n".join(provision.jobs.order_by("-id").first().lines.values_list("message", flat=True))
    assert f"container {one.container_name} (one) destroyed" in log
    assert "VXLAN removed vxlan100" in log and "VXLAN removed onevx100" in log
    assert not [ns for ns in net.namespaces() if ns.startswith("edgelab-")]
    leftovers = net.run("pgrep", "-af", "bgpd|zebra", check=False).stdout
    assert str(lab_world["tmp"]) not in leftovers and "edge-lab" not in leftovers, leftovers
