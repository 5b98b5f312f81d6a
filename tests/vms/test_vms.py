"""Marketplace export, templates and VMs without the lab: validation, tenancy, quotas, ports."""

import pytest

from core.quotas import Quota
from marketplace import services as market
from tests.concurrency import run_in_threads
from vms import ports, services
from vms.models import NIC, VM, PortBlock, VMTemplate

pytestmark = pytest.mark.django_db


def test_export_makes_image_and_template(template, owner):
    assert template.name == "Alpine" and template.image.datastore.name == "dc-image"
    assert template.image.sha256 == "a" * 64 and template.owner == owner


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Nope 1.0", "X", "dc-image"), "marketplace app 'Nope 1.0' not found"),
        (("Alpine Linux 3.13", "X", "dc-system"), "is a system datastore"),
        (("Alpine Linux 3.13", "X", "other-image"), "datastore 'other-image' not found"),
        (("Alpine Linux 3.13", "a b;c", "dc-image"), "is not a valid name"),
        (("Debian 12", "X", "dc-image"), "has no verified image yet"),
    ],
)
def test_bad_export_is_clear_and_creates_nothing(owner, cluster, app, args, message):
    with pytest.raises(market.ValidationError, match=message):
        market.export_app(owner, *args)
    assert not VMTemplate.objects.exists()


def test_instantiate_places_allocates_and_queues(template, owner, cluster):
    vm = services.instantiate(owner, "Alpine", name="alpine_test", nics=["dc-public"])
    assert vm.state == "PENDING" and vm.host.provision == cluster
    block = PortBlock.objects.get(nic__vm=vm)
    assert (block.external_range, block.internal_range) == ("9001:9100", "1-100/9001")
    assert services.forwarded(vm, 80) == f"{vm.host.public_ip}@9080 -> 80"
    second = services.instantiate(owner, "Alpine", name="second", nics=["dc-public"])
    blocks = {b.host_id: b.block for b in PortBlock.objects.all()}
    assert len(blocks) == 2 or sorted(PortBlock.objects.values_list("block", flat=True)) == [0, 1]
    assert second.nics.get().ip != vm.nics.get().ip or second.host != vm.host


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x;reboot", "nics": ["dc-public"]}, "is not a valid VM name"),
        ({"name": "ok", "nics": ["nope"]}, "network 'nope' not found"),
        ({"name": "ok", "nics": ["dc-public", "dc-public"]}, "at most one NIC on the public"),
        ({"name": "ok", "nics": ["dc-private", "dc-private"]}, "at most one NIC per private"),
    ],
)
def test_bad_instantiate_is_clear_and_creates_nothing(template, owner, kwargs, message):
    with pytest.raises(services.ValidationError, match=message):
        services.instantiate(owner, "Alpine", **kwargs)
    with pytest.raises(services.ValidationError, match="template 'Nope' not found"):
        services.instantiate(owner, "Nope", name="ok", nics=["dc-public"])
    assert not VM.objects.exists() and not PortBlock.objects.exists()


def test_quota_is_checked(template, owner):
    Quota.objects.create(user=owner, vms=1, cpu=8, memory_mb=8192)
    services.instantiate(owner, "Alpine", name="one", nics=["dc-public"])
    with pytest.raises(
        services.ValidationError, match="user alice: VMS 1 of 1 used, this VM needs 1"
    ):
        services.instantiate(owner, "Alpine", name="two", nics=["dc-public"])


def test_capacity_is_respected(template, owner, cluster):
    # 556 MiB less the 256 MiB the host keeps: room for one 256 MiB VM per host.
    cluster.hosts.update(memory_mb=556)
    a = services.instantiate(owner, "Alpine", name="a", nics=["dc-public"])
    b = services.instantiate(owner, "Alpine", name="b", nics=["dc-public"])
    c = services.instantiate(owner, "Alpine", name="c", nics=["dc-public"])
    assert {a.host_id, b.host_id} == set(cluster.hosts.values_list("pk", flat=True))
    c.refresh_from_db()
    assert c.host is None and c.state == "PENDING"
    assert (
        c.placement_reason == "no host with 256 MiB memory free: largest free 44 MiB on dc-host-0"
    )


def test_outsider_gets_404_everywhere(template, owner, outsider_api, outsider_client):
    vm = services.instantiate(owner, "Alpine", name="mine", nics=["dc-public"])
    for method, url in [
        ("get", f"/api/vms/{vm.pk}/"),
        ("delete", f"/api/vms/{vm.pk}/"),
        ("post", f"/api/vms/{vm.pk}/exec/"),
        ("get", f"/api/vms/{vm.pk}/port-forward/"),
        ("post", f"/api/templates/{template.pk}/instantiate/"),
        ("get", f"/api/images/{template.image.pk}/"),
    ]:
        assert getattr(outsider_api, method)(url).status_code == 404, url
    for url in [
        f"/vms/{vm.pk}/",
        f"/vms/{vm.pk}/live/",
        f"/vms/templates/{template.pk}/instantiate/",
    ]:
        assert outsider_client.get(url).status_code == 404, url
    assert outsider_client.post(f"/vms/{vm.pk}/terminate/").status_code == 404
    vm.refresh_from_db()
    assert vm.state == "PENDING"


def test_pages_render(template, owner, owner_client, app):
    vm = services.instantiate(owner, "Alpine", name="shown", nics=["dc-public"])
    for url, text in [
        ("/marketplace/", "Alpine Linux 3.13"),
        (f"/marketplace/{app.pk}/", "Export"),
        ("/vms/templates/", "Alpine"),
        (f"/vms/{vm.pk}/", "9001:9100"),
        ("/vms/", "shown"),
        ("/", "VMs"),
    ]:
        response = owner_client.get(url)
        assert response.status_code == 200 and text in response.content.decode(), url


@pytest.mark.parametrize("count", [1, 30])
def test_vm_list_query_counts_are_constant(
    template, owner, api, owner_client, count, django_assert_max_num_queries, cluster
):
    cluster.hosts.update(memory_mb=100000, cpu=100)
    Quota.objects.create(user=owner, vms=100, cpu=100, memory_mb=100000)
    for index in range(count):
        services.instantiate(owner, "Alpine", name=f"vm{index}", nics=["dc-public"])
    with django_assert_max_num_queries(6):
        assert api.get("/api/vms/").json()["count"] == count
    with django_assert_max_num_queries(6):
        owner_client.get("/vms/")


@pytest.mark.django_db(transaction=True)
def test_concurrent_port_allocations_never_collide(owner, cluster, template):
    host = cluster.hosts.first()
    vms = [
        VM.objects.create(
            owner=owner, name=f"v{i}", image=template.image, host=host, cpu=1, memory_mb=1
        )
        for i in range(40)
    ]
    nics = [
        NIC.objects.create(vm=vm, network=cluster.networks.get(kind="public"), index=0)
        for vm in vms
    ]
    errors = run_in_threads(lambda i: [ports.allocate(host, nic) for nic in nics[i::8]], 8)
    assert errors == []
    blocks = list(PortBlock.objects.filter(host=host).values_list("block", flat=True))
    assert sorted(blocks) == list(range(40))
