"""List pages and list endpoints cost the same number of queries at 1 and at 50 objects."""

import re

import pytest

from core.quotas import Quota
from marketplace import services as market
from marketplace.choices import MarketplaceKind
from marketplace.models import Marketplace, MarketplaceApp
from vms import services
from vms.models import VM, Image, VMTemplate

pytestmark = pytest.mark.django_db

COUNTS = [1, 50]


@pytest.fixture
def cluster(cluster):
    """Room for 50 VMs."""
    cluster.hosts.update(cpu=100, memory_mb=100000)
    return cluster


def make_apps(count):
    """Exactly `count` apps, spread over two marketplaces so each row's marketplace differs."""
    MarketplaceApp.objects.all().delete()
    markets = [
        Marketplace.objects.get(name="Linux Containers"),
        Marketplace.objects.create(name="Extra", kind=MarketplaceKind.LAB),
    ]
    MarketplaceApp.objects.bulk_create(
        MarketplaceApp(
            marketplace=markets[index % 2],
            name=f"App {index}",
            version="1",
            os_id="alpine",
            os_version="1",
        )
        for index in range(count)
    )


def make_templates(owner, cluster, count):
    """`count` exported templates (each with its own image), each with a NIC network."""
    public = cluster.networks.get(kind="public")
    for index in range(count):
        _, template = market.export_app(owner, "Alpine Linux 3.13", f"t{index}", "dc-image")
        template.networks.add(public)


@pytest.mark.parametrize("count", COUNTS)
def test_marketplace_app_page_query_count_is_constant(
    owner_client, count, django_assert_max_num_queries
):
    make_apps(count)
    with django_assert_max_num_queries(3):
        response = owner_client.get("/marketplace/")
    assert response.status_code == 200
    assert response.content.decode().count("/marketplace/") >= count
    assert f"App {count - 1}" in response.content.decode()


@pytest.mark.parametrize("count", COUNTS)
def test_marketplace_app_api_query_count_is_constant(api, count, django_assert_max_num_queries):
    make_apps(count)
    with django_assert_max_num_queries(4):
        data = api.get("/api/marketplaceapps/").json()
    assert data["count"] == count
    assert {row["marketplace"] for row in data["results"]} == (
        {"Linux Containers"} if count == 1 else {"Linux Containers", "Extra"}
    )


@pytest.mark.parametrize("count", COUNTS)
def test_template_page_query_count_is_constant(
    owner, owner_client, cluster, app, count, django_assert_max_num_queries
):
    make_templates(owner, cluster, count)
    with django_assert_max_num_queries(3):
        response = owner_client.get("/vms/templates/")
    assert response.status_code == 200
    assert f"t{count - 1}" in response.content.decode()


@pytest.mark.parametrize("count", COUNTS)
def test_template_api_query_count_is_constant(
    owner, api, cluster, app, count, django_assert_max_num_queries
):
    make_templates(owner, cluster, count)
    with django_assert_max_num_queries(5):
        data = api.get("/api/templates/").json()
    assert data["count"] == count
    assert all(row["networks"] == ["dc-public"] for row in data["results"])
    assert data["results"][-1]["image"] == f"t{count - 1}"


@pytest.mark.parametrize("count", COUNTS)
def test_image_api_query_count_is_constant(
    owner, api, cluster, app, count, django_assert_max_num_queries
):
    make_templates(owner, cluster, count)
    with django_assert_max_num_queries(4):
        data = api.get("/api/images/").json()
    assert data["count"] == count == Image.objects.count()
    assert {row["datastore"] for row in data["results"]} == {"dc-image"}


@pytest.fixture
def make_vms(owner, cluster, app):
    Quota.objects.create(user=owner, vms=100, cpu=100, memory_mb=100000)
    market.export_app(owner, "Alpine Linux 3.13", "Alpine", "dc-image")

    def make(count):
        for index in range(count):
            services.instantiate(owner, "Alpine", name=f"vm{index}", nics=["dc-public"])
        assert VM.objects.count() == count

    return make


@pytest.mark.parametrize("count", COUNTS)
def test_vm_page_query_count_is_constant(
    owner_client, make_vms, count, django_assert_max_num_queries
):
    make_vms(count)
    # session, user, paginator count, VMs (host and template joined), NICs, port blocks
    with django_assert_max_num_queries(6):
        response = owner_client.get("/vms/")
    text = response.content.decode()
    assert response.status_code == 200 and f"vm{count - 1}" in text
    # Every row shows its port block, so the prefetch is really used.
    assert len(re.findall(r">\d{4,5}:\d{4,5}<", text)) == count


@pytest.mark.parametrize("count", COUNTS)
def test_vm_api_query_count_is_constant(api, make_vms, count, django_assert_max_num_queries):
    make_vms(count)
    with django_assert_max_num_queries(5):
        data = api.get("/api/vms/").json()
    assert data["count"] == count
    assert all(row["ports"] and row["nics"][0]["network"] == "dc-public" for row in data["results"])
    assert {row["host"] for row in data["results"]} <= set(
        VMTemplate.objects.get().image.datastore.provision.hosts.values_list("name", flat=True)
    )
