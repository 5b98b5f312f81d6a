"""Costs on every face: the estimate before droplets are made (API, review page, CLI), what a
provision and a user's provisions cost (pages, API, `oneprovision show`), DigitalOcean's own
figure for operators only, and another tenant's costs never shown."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from costs.models import BalanceCheck
from provisions import services
from tests.cli.helpers import run_oneprovision
from tests.costs import helpers
from tests.costs.helpers import HOURLY
from tests.factories import make_provider
from vms import services as vm_services
from vms.models import VM

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def metered(provision, hours=5):
    # A minute inside the hour, so the request a moment later still counts `hours` hours.
    helpers.metered(provision, timezone.now() - timezone.timedelta(hours=hours, minutes=-1))


def test_the_estimate_is_digitaloceans_price_before_anything_is_made(sim, sim_provider, api):
    answer = api.get(
        "/api/provisions/estimate/", {"provider": "sim", "hosts": 4, "size": "s-1vcpu-1gb"}
    )
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "count": 4,
        "size": "s-1vcpu-1gb",
        "hourly": "0.03572",
        "monthly": "24.00",
        "line": "4 x s-1vcpu-1gb = $0.0357/h, $24.00/month",
    }
    assert not sim.state_snapshot()["droplets"]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"provider": "sim", "hosts": 0}, "hosts", "from 1"),
        ({"provider": "sim", "size": "s-99vcpu"}, "size", "not a DigitalOcean size"),
        ({"provider": "theirs"}, "provider", "not found"),
    ],
)
def test_a_bad_estimate_request_names_what_is_wrong(
    sim, sim_provider, api, outsider, query, field, words
):
    make_provider(outsider, name="theirs")
    answer = api.get("/api/provisions/estimate/", query)
    assert answer.status_code == 400
    assert words in str(answer.json()["errors"][field])


def test_create_and_add_host_answer_with_the_cost(sim, sim_provider, api, owner):
    made = api.post(
        "/api/provisions/",
        {"name": "edge", "provider": "sim", "hosts": 2, "size": "s-1vcpu-1gb"},
        format="json",
    )
    assert made.status_code == 201
    assert made.json()["estimate"]["line"] == "2 x s-1vcpu-1gb = $0.0179/h, $12.00/month"


def test_the_review_page_shows_the_cost_before_creating(sim, sim_provider, owner_client):
    page = owner_client.post(
        "/provisions/new/",
        {
            "provider": sim_provider.pk,
            "name": "edge",
            "hosts": 4,
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-22-04-x64",
        },
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "4 x s-1vcpu-1gb = $0.0357/h, $24.00/month" in text
    assert "Create provision" in text
    # What the hosts take of the quotas, beside what they cost.
    assert "Your quotas (alice)" in text and "<td>HOSTS</td>" in text and "<td>SPEND</td>" in text


def test_oneprovision_create_estimate_creates_nothing(sim, sim_provider, cli_env, capsys):
    code, out, err = run_oneprovision(
        capsys, "create", "--provider", "sim", "--hosts", "4", "--size", "s-1vcpu-1gb", "--estimate"
    )
    assert (code, out, err) == (0, "cost: 4 x s-1vcpu-1gb = $0.0357/h, $24.00/month\n", "")
    assert not sim_provider.provisions.exists()


def test_a_provisions_cost_with_its_vms_shares(
    cluster, template, owner, outsider, api, outsider_api, operator_api, owner_client
):
    metered(cluster)
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(cpu=1, memory_mb=512)
    url = f"/api/provisions/{cluster.pk}/cost/"
    data = api.get(url).json()
    assert data["month_to_date"] == str((2 * 5 * HOURLY).quantize(Decimal("0.01")))
    assert data["hourly"] == "0.01786"
    assert [v["name"] for v in data["vms"]] == ["web"]
    shares = Decimal(data["vms"][0]["projected"]) + Decimal(data["idle"]["projected"])
    assert abs(shares - Decimal(data["projected"])) <= Decimal("0.01")
    assert len(data["droplets"]) == 2
    assert outsider_api.get(url).status_code == 404
    assert operator_api.get(url).status_code == 200

    page = owner_client.get(cluster.get_absolute_url()).content.decode()
    assert 'id="provision-cost"' in page and "idle capacity" in page and ">web<" in page
    assert client_of(outsider).get(cluster.get_absolute_url()).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_oneprovision_show_has_a_cost_section(cluster, template, owner, cli_env, capsys):
    metered(cluster)
    vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    code, out, _ = run_oneprovision(capsys, "show", "dc")
    assert code == 0
    section = out.split("COST (THIS MONTH")[1].split("CLOUD RESOURCES")[0]
    assert f"MONTH TO DATE : ${(10 * HOURLY).quantize(Decimal('0.01'))}" in section
    assert "web" in section and "(idle capacity)" in section


def test_the_users_costs_are_their_own(cluster, owner, outsider, api, outsider_api):
    metered(cluster)
    mine = api.get("/api/costs/").json()
    assert [p["name"] for p in mine["provisions"]] == ["dc"]
    assert mine["hourly"] == "0.01786"
    theirs = outsider_api.get("/api/costs/").json()
    assert theirs["provisions"] == [] and theirs["month_to_date"] == "0.00"


def test_digitaloceans_figure_is_for_operators(cluster, api, operator_api, operator_client):
    BalanceCheck.objects.create(
        token_fingerprint="f" * 16,
        providers="do",
        checked_at=timezone.now(),
        portal_usd=Decimal("1.00"),
        digitalocean_usd=Decimal("7.50"),
    )
    assert api.get("/api/costs/balance/").status_code == 403
    [check] = operator_api.get("/api/costs/balance/").json()
    assert (check["difference"], check["out_of_step"]) == ("6.50", True)
    page = operator_client.get("/costs/").content.decode()
    assert 'id="balance-drift"' in page and "$6.50" in page


def test_the_costs_page_shows_the_users_provisions(cluster, owner_client, outsider):
    metered(cluster)
    page = owner_client.get("/costs/").content.decode()
    assert ">dc<" in page and "balance-checks" not in page
    assert ">dc<" not in client_of(outsider).get("/costs/").content.decode()


@pytest.mark.parametrize("count", [1, 6])
def test_the_costs_page_query_count_is_constant(
    owner, owner_client, count, django_assert_max_num_queries
):
    provider = make_provider(owner, name="do")
    for index in range(count):
        provision = services.create_provision(
            owner, provider=provider, name=f"p{index}", host_count=2
        )
        metered(provision)
    with django_assert_max_num_queries(6):
        page = owner_client.get("/costs/")
    assert page.content.decode().count("#provision-cost") == count
    with django_assert_max_num_queries(6):
        assert len(owner_client.get("/api/costs/").json()["provisions"]) == count
