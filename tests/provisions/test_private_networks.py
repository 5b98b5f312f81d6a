"""Private networks without the lab: ranges, VNIs, leases, FRR configuration, the API, the
pages and `onevnet`. The lab test (tests/lab/test_private_network.py) runs them for real."""

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from cli import onevnet
from jobs.states import JobState
from provisions import services
from provisions.choices import JobKind
from provisions.hostconfig import evpn
from provisions.models import Network, Provision
from tests.concurrency import run_in_threads
from tests.factories import make_provider
from vms import addresses, lxc
from vms.models import NIC, VM, Image, Lease

pytestmark = pytest.mark.django_db


def vm_with_nic(owner, network, name):
    datastore = network.provision.datastores.get(kind="image")
    image, _ = Image.objects.get_or_create(
        owner=owner, name="img", datastore=datastore, defaults={"url": "http://x/i", "sha256": "a"}
    )
    vm = VM.objects.create(
        owner=owner,
        name=name,
        image=image,
        host=network.provision.hosts.first(),
        cpu=1,
        memory_mb=64,
    )
    return NIC.objects.create(vm=vm, network=network, index=0)


def test_every_provision_gets_a_private_network_with_a_vni_and_range(cluster):
    private = cluster.networks.get(name="dc-private")
    assert (private.kind, private.vni, private.address_range) == ("private", 100, "10.200.0.0/24")
    assert (private.vxlan_device, private.bridge) == ("vxlan100", "onevx100")


def test_another_private_network_takes_the_next_vni_and_range_and_queues_a_deploy(cluster, owner):
    network = services.create_network(owner, cluster, name="backend")
    assert (network.vni, network.address_range) == (101, "10.201.0.0/24")
    job = cluster.jobs.order_by("-id").first()
    assert (job.kind, job.state, job.options) == (
        JobKind.DEPLOY,
        JobState.QUEUED,
        {"network": network.pk},
    )
    with pytest.raises(ValidationError, match="already has a job running"):
        services.create_network(owner, cluster, name="db")
    job.state = JobState.SUCCESS
    job.save()
    chosen = services.create_network(owner, cluster, name="db", address_range="172.20.8.0/22")
    assert (chosen.vni, chosen.address_range) == (102, "172.20.8.0/22")


@pytest.mark.parametrize(
    ("name", "address_range", "message"),
    [
        ("a b;reboot", None, "is not a valid network name"),
        ("dc-private", None, "already has a network named 'dc-private'"),
        ("x", "10.200.0.128/25", "overlaps 10.200.0.0/24"),
        ("x", "192.168.150.0/24", "overlaps 192.168.150.0/24"),
        ("x", "8.8.8.0/24", "is not a private IPv4 range"),
        ("x", "10.0.0.0/8", "use a prefix from /16 to /29"),
        ("x", "10.1.2.3/24", "is not a network in CIDR form"),
        ("x", "nonsense", "is not a network in CIDR form"),
    ],
)
def test_bad_network_input_is_clear_and_creates_nothing(
    cluster, owner, name, address_range, message
):
    before = Network.objects.count(), cluster.jobs.count()
    with pytest.raises(ValidationError, match=message):
        services.create_network(owner, cluster, name=name, address_range=address_range)
    assert (Network.objects.count(), cluster.jobs.count()) == before


def test_networks_are_added_only_to_running_clusters_of_their_owner(cluster, owner, outsider):
    with pytest.raises(Http404):
        services.create_network(outsider, cluster, name="sneaky")
    Provision.objects.filter(pk=cluster.pk).update(state="ERROR")
    cluster.refresh_from_db()
    with pytest.raises(ValidationError, match="is ERROR"):
        services.create_network(owner, cluster, name="later")


def test_leases_take_the_lowest_free_address_and_come_back(cluster, owner):
    network = Network.objects.get(name="dc-private")
    network.address_range = "10.210.0.0/29"  # 6 usable addresses
    network.save()
    nics = [vm_with_nic(owner, network, f"vm{i}") for i in range(7)]
    got = [addresses.allocate(network, nic).ip for nic in nics[:6]]
    assert got == [f"10.210.0.{i}" for i in range(1, 7)]
    assert nics[0].mac == "02:ed:0a:d2:00:01"
    with pytest.raises(addresses.NoFreeAddress, match=r"dc-private \(10.210.0.0/29\) has no free"):
        addresses.allocate(network, nics[6])
    addresses.release(nics[2])
    assert addresses.allocate(network, nics[6]).ip == "10.210.0.3"


@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_never_collide(cluster, owner):
    network = Network.objects.get(name="dc-private")
    nics = [vm_with_nic(owner, network, f"v{i}") for i in range(40)]
    errors = run_in_threads(lambda i: [addresses.allocate(network, nic) for nic in nics[i::8]], 8)
    assert errors == []
    leased = sorted(Lease.objects.values_list("ip", flat=True), key=lambda a: int(a.split(".")[-1]))
    assert leased == [f"10.200.0.{i}" for i in range(1, 41)]


def test_frr_configuration_makes_the_first_host_the_route_reflector():
    hosts = [evpn.Peer("dc-host-0", "10.96.16.2"), evpn.Peer("dc-host-1", "10.96.16.3")]
    hosts.append(evpn.Peer("dc-host-2;reboot", "10.96.16.4"))
    reflector = evpn.render_frr(hosts[0], hosts)
    assert "bgp router-id 10.96.16.2" in reflector
    assert " neighbor 10.96.16.3 peer-group evpn" in reflector
    assert " neighbor 10.96.16.4 peer-group evpn" in reflector
    assert "route-reflector-client" in reflector and "advertise-all-vni" in reflector
    client = evpn.render_frr(hosts[2], hosts)
    assert "hostname dc-host-2-reboot" in client
    assert " neighbor 10.96.16.2 peer-group evpn" in client
    assert "10.96.16.3" not in client and "route-reflector-client" not in client
    # When the reflector goes, the next host takes over.
    assert "route-reflector-client" in evpn.render_frr(hosts[1], hosts[1:])
    with pytest.raises(ValueError):
        evpn.render_frr(evpn.Peer("x", "10.0.0.1; rm -rf /"), hosts)


def test_nic_lines_give_the_container_a_public_and_a_private_nic(cluster, owner):
    public = cluster.networks.get(kind="public")
    private = cluster.networks.get(kind="private")
    first = vm_with_nic(owner, public, "web")
    first.ip = "192.168.150.2"
    second = NIC.objects.create(vm=first.vm, network=private, index=1)
    addresses.allocate(private, second)
    assert lxc.nic_lines([first, second]).splitlines() == [
        "onebr0 192.168.150.2/24 - - 192.168.150.1",
        f"onevx100 10.200.0.1/24 02:ed:0a:c8:00:01 {evpn.VXLAN_MTU} -",
    ]


def test_api_lists_networks_with_leases_and_creates_private_ones(cluster, owner, api):
    private = cluster.networks.get(kind="private")
    addresses.allocate(private, vm_with_nic(owner, private, "db1"))
    listed = {n["name"]: n for n in api.get("/api/networks/").json()["results"]}
    assert listed["dc-private"]["leases"] == 1 and listed["dc-private"]["vni"] == 100
    assert listed["dc-public"]["address_range"] == ""
    detail = api.get(f"/api/networks/{private.pk}/").json()
    assert detail["lease_list"][0]["ip"] == "10.200.0.1"
    assert detail["lease_list"][0]["vm"] == "db1"
    assert detail["lease_list"][0]["mac"] == "02:ed:0a:c8:00:01"

    response = api.post("/api/networks/", {"provision": "dc", "name": "backend"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["address_range"] == "10.201.0.0/24"
    bad = api.post(
        "/api/networks/",
        {"provision": "dc", "name": "x", "address_range": "10.201.0.0/24"},
        format="json",
    )
    assert bad.status_code == 400 and "overlaps" in str(bad.json())
    assert not Network.objects.filter(name="x").exists()


def test_outsider_gets_404_for_foreign_networks(cluster, outsider_api, outsider_client):
    private = cluster.networks.get(kind="private")
    assert outsider_api.get(f"/api/networks/{private.pk}/").status_code == 404
    assert outsider_api.get("/api/networks/").json()["count"] == 0
    response = outsider_api.post(
        "/api/networks/", {"provision": cluster.pk, "name": "mine"}, format="json"
    )
    assert response.status_code == 400 and "not found" in str(response.json())
    page = outsider_client.get(f"/provisions/{cluster.pk}/networks/{private.pk}/")
    assert page.status_code == 404
    posted = outsider_client.post(f"/provisions/{cluster.pk}/networks/add/", {"name": "mine"})
    assert posted.status_code == 404
    assert not Network.objects.filter(name="mine").exists()


@pytest.mark.parametrize("count", [1, 50])
def test_network_list_query_count_is_constant(owner, api, count, django_assert_max_num_queries):
    provider = make_provider(owner, name="do")
    for index in range(count):
        services.create_provision(owner, provider=provider, name=f"c{index}")
    with django_assert_max_num_queries(4):
        assert api.get("/api/networks/").json()["count"] == 2 * count


def test_pages_show_ranges_and_leases_and_add_networks(cluster, owner, owner_client):
    private = cluster.networks.get(kind="private")
    addresses.allocate(private, vm_with_nic(owner, private, "db1"))
    page = owner_client.get(f"/provisions/{cluster.pk}/").content.decode()
    assert "10.200.0.0/24" in page and "Add private network" in page
    detail = owner_client.get(f"/provisions/{cluster.pk}/networks/{private.pk}/").content.decode()
    assert "10.200.0.1" in detail and "02:ed:0a:c8:00:01" in detail and "db1" in detail
    response = owner_client.post(
        f"/provisions/{cluster.pk}/networks/add/", {"name": "backend", "address_range": "bad"}
    )
    assert response.status_code == 302
    assert not Network.objects.filter(name="backend").exists()
    owner_client.post(f"/provisions/{cluster.pk}/networks/add/", {"name": "backend"})
    assert Network.objects.get(name="backend").address_range == "10.201.0.0/24"


@pytest.mark.django_db(transaction=True)
def test_onevnet_lists_shows_and_creates(cluster, owner, cli_env, capsys):
    private = cluster.networks.get(kind="private")
    addresses.allocate(private, vm_with_nic(owner, private, "db1"))
    assert onevnet.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.split("\n")[0].split() == ["ID", "NAME", "CLUSTER", "TYPE", "RANGE", "VNI", "LEASES"]
    assert "dc-private" in out and "10.200.0.0/24" in out
    assert onevnet.main(["show", "dc-private"]) == 0
    out = capsys.readouterr().out
    assert "AR         : 10.200.0.0/24" in out or "10.200.0.0/24" in out
    assert "10.200.0.1" in out and "db1" in out
    assert onevnet.main(["create", "dc", "backend", "--range", "10.77.0.0/24"]) == 0
    created = Network.objects.get(name="backend")
    assert capsys.readouterr().out == f"ID: {created.pk}\n"
    assert onevnet.main(["create", "dc", "again", "--range", "10.77.0.0/25"]) == 1
    assert "overlaps 10.77.0.0/24" in capsys.readouterr().err


def test_deleting_a_private_network_waits_for_its_vms_and_keeps_their_history(
    cluster, owner, api, owner_client, outsider_api
):
    public = cluster.networks.get(kind="public")
    backend = services.create_network(owner, cluster, name="backend")
    cluster.jobs.update(state=JobState.SUCCESS)
    nic = vm_with_nic(owner, backend, "db1")
    addresses.allocate(backend, nic)

    with pytest.raises(ValidationError, match="public network"):
        services.delete_network(owner, public)
    with pytest.raises(ValidationError, match="used by VM.*db1"):
        services.delete_network(owner, backend)
    assert outsider_api.delete(f"/api/networks/{backend.pk}/").status_code == 404
    assert Network.objects.filter(pk=backend.pk).exists()

    VM.objects.filter(pk=nic.vm_id).update(state="DONE")
    assert api.delete(f"/api/networks/{backend.pk}/").status_code == 202
    assert not Network.objects.filter(pk=backend.pk).exists()
    assert not Lease.objects.filter(nic=nic).exists()
    nic.refresh_from_db()
    assert nic.network is None  # the ended VM keeps its NIC, without a network
    job = cluster.jobs.order_by("-id").first()
    assert (job.kind, job.state, job.options) == (
        JobKind.DEPLOY,
        JobState.QUEUED,
        {"deleted_network": "backend"},
    )
    shown = api.get(f"/api/vms/{nic.vm_id}/").json()
    assert shown["nics"] == [
        {"nic": 0, "network": None, "kind": None, "ip": nic.ip, "mac": nic.mac}
    ]
    assert "(network deleted)" in owner_client.get(f"/vms/{nic.vm_id}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_onevnet_delete(cluster, owner, cli_env, capsys):
    services.create_network(owner, cluster, name="scratch")
    cluster.jobs.update(state=JobState.SUCCESS)
    assert onevnet.main(["delete", "scratch"]) == 0
    assert not Network.objects.filter(name="scratch").exists()
    assert onevnet.main(["delete", "dc-public"]) == 1
    assert "public network" in capsys.readouterr().err
