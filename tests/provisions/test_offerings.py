"""A provision's droplet size and image are checked before anything is created: against the
provider's options, or DigitalOcean's lists for its region (asked once, then cached)."""

import pytest
from django.core.cache import cache

from provisions.models import Provision

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _catalog_calls(sim):
    calls = sim.state()["api_calls"]["by_route"]
    return sum(count for route, count in calls.items() if "sizes" in route or "images" in route)


@pytest.mark.parametrize(
    ("field", "value", "message", "offered"),
    [
        (
            "size",
            "s-64vcpu-1tb",
            "'s-64vcpu-1tb' is not a DigitalOcean size offered in nyc3",
            "s-1vcpu-1gb",
        ),
        (
            "image",
            "windows-11",
            "'windows-11' is not a DigitalOcean image offered in nyc3",
            "ubuntu-24-04-x64",
        ),
    ],
)
def test_a_slug_digitalocean_does_not_offer_is_a_400_and_creates_nothing(
    api, sim, sim_provider, field, value, message, offered
):
    response = api.post(
        "/api/provisions/", {"name": "edge", "provider": "sim", field: value}, format="json"
    )
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert message in detail and "choose one of" in detail and offered in detail
    assert not Provision.objects.exists()
    assert not sim.state_snapshot()["droplets"]


def test_an_offered_slug_is_accepted_and_the_lists_are_asked_once(api, sim, sim_provider):
    for index in range(3):
        response = api.post(
            "/api/provisions/",
            {
                "name": f"edge{index}",
                "provider": "sim",
                "size": "s-2vcpu-4gb",
                "image": "debian-12-x64",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    assert _catalog_calls(sim) == 2  # one for sizes, one for images


def test_defaults_need_no_check_and_the_price_list_is_asked_once(api, sim, sim_provider):
    for name in ("edge", "edge2"):
        response = api.post("/api/provisions/", {"name": name, "provider": "sim"}, format="json")
        assert response.status_code == 201
        assert response.json()["estimate"]["line"].startswith("1 x ")
    # No image list at all; the size list once, for its prices (the answer's cost estimate).
    assert sim.state()["api_calls"]["by_route"].get("GET /v2/images") is None
    assert _catalog_calls(sim) == 1


def test_digitalocean_unreachable_is_a_clear_400(api, sim_provider, settings):
    settings.DIGITALOCEAN_RETRIES = 0
    response = api.post(
        "/api/provisions/",
        {"name": "edge", "provider": "sim", "size": "s-2vcpu-4gb"},
        format="json",
    )
    assert response.status_code == 400
    assert "cannot check the size with DigitalOcean now" in response.json()["detail"]
    assert not Provision.objects.exists()


def test_the_wizard_refuses_the_slug_before_its_review(owner_client, sim, sim_provider):
    response = owner_client.post(
        "/provisions/new/",
        {"provider": sim_provider.pk, "name": "wiz", "hosts": 1, "size": "huge", "image": "x-1"},
    )
    html = response.content.decode()
    assert "step 3 of 3" not in html
    assert "&#x27;huge&#x27; is not a DigitalOcean size offered in nyc3" in html
    assert "&#x27;x-1&#x27; is not a DigitalOcean image offered in nyc3" in html
    assert not Provision.objects.exists()
