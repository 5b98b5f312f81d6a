"""The DigitalOcean driver against the simulator: retries, error classes, call counting."""

import time

import pytest

from providers.drivers import (
    AuthenticationError,
    DigitalOceanDriver,
    PermanentError,
    TransientError,
)
from tests.contract.session import checked
from tests.factories import make_provider

TOKEN = "lab-token"


@pytest.fixture
def sim():
    """A simulator; the driver's every request and the answers are checked against
    DigitalOcean's contract."""
    from lab.docsim import start_in_thread

    server = start_in_thread(port=0, boot_delay=0.1, email="ops@example.com")
    try:
        with checked(server):
            yield server
    finally:
        server.stop()


def driver(sim, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    return DigitalOceanDriver(TOKEN, endpoint=sim.url + "/v2/", **kwargs)


def test_account(sim):
    do = driver(sim)
    assert do.account()["email"] == "ops@example.com"
    assert do.api_calls == 1


def test_429_is_retried_after_retry_after(sim):
    sim.set_faults(fault_429_every=2, retry_after=1)
    do = driver(sim)
    do.account()
    started = time.monotonic()
    do.account()  # the 2nd call answers 429 once
    assert time.monotonic() - started >= 0.9
    assert (do.api_calls, do.retried_calls) == (3, 1)


def test_429_on_post_is_retried_too(sim):
    sim.set_faults(fault_429_every=1, retry_after=0)
    do = driver(sim, retries=2)
    with pytest.raises(TransientError, match="429"):
        do.create_tag("x")
    assert do.api_calls == 3


def test_5xx_get_is_retried_and_post_is_not(sim):
    sim.set_faults(fault_5xx_every=2)
    do = driver(sim)
    do.account()
    do.account()  # 5xx then retried
    assert do.retried_calls == 1
    sim.set_faults(fault_5xx_every=1)
    with pytest.raises(TransientError):
        do.create_tag("never-twice")
    assert do.api_calls == 4  # one POST, not retried: it might have been applied


def test_bad_token_is_an_authentication_error(sim):
    do = DigitalOceanDriver("not-the-token", endpoint=sim.url + "/v2/")
    with pytest.raises(AuthenticationError) as caught:
        do.account()
    assert caught.value.status == 401
    assert "Unable to authenticate you" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


def test_bad_region_is_a_permanent_error_with_the_api_message(sim):
    do = driver(sim)
    with pytest.raises(PermanentError) as caught:
        do.create_droplets(
            ["a"],
            region="mars1",
            size="s-1vcpu-1gb",
            image="ubuntu-22-04-x64",
            ssh_keys=[],
            tags=[],
        )
    assert caught.value.status == 422
    assert "region" in str(caught.value).lower()


def test_unreachable_endpoint_is_transient():
    do = DigitalOceanDriver(TOKEN, endpoint="http://127.0.0.1:9/v2/", retries=0, timeout=(0.5, 0.5))
    with pytest.raises(TransientError, match="cannot reach 127.0.0.1:9"):
        do.account()


def test_lists_follow_pagination(sim):
    do = driver(sim)
    names = [f"d{i}" for i in range(25)]
    created = do.create_droplets(
        names,
        region="nyc3",
        size="s-1vcpu-1gb",
        image="ubuntu-22-04-x64",
        ssh_keys=[],
        tags=["many"],
    )
    assert len(created) == 25
    assert do.api_calls == 3  # batches of 10
    assert sorted(d["name"] for d in do.droplets(tag="many")) == sorted(names)
    do.delete_droplets_by_tag("many")
    assert do.droplets(tag="many") == []


@pytest.mark.django_db
def test_test_connection_page_and_api_show_the_account(sim, settings, owner, owner_client, api):
    settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
    good = make_provider(owner, name="good", token=TOKEN)
    bad = make_provider(owner, name="bad", token="wrong-token-1234")
    result = api.post(f"/api/providers/{good.pk}/test-connection/").json()
    assert result == {
        "ok": True,
        "email": "ops@example.com",
        "status": "active",
        "droplet_limit": result["droplet_limit"],
    }
    result = api.post(f"/api/providers/{bad.pk}/test-connection/").json()
    assert result["ok"] is False and "401" in result["error"]
    page = owner_client.post(f"/providers/{good.pk}/test/", HTTP_HX_REQUEST="true")
    assert b"ops@example.com" in page.content
    page = owner_client.post(f"/providers/{bad.pk}/test/", HTTP_HX_REQUEST="true")
    assert b"Unable to authenticate you" in page.content


def test_429s_and_the_time_they_cost_are_counted(sim):
    sim.set_faults(fault_429_every=2, retry_after=1)
    do = driver(sim)
    assert do.rate_limit_summary() is None
    do.account()
    do.account()  # 429, retry-after 1 s, then the answer
    assert do.rate_limited == 1 and 0.9 <= do.rate_limit_wait < 2
    assert do.rate_limit_summary() == f"rate limited: 1 × 429, waited {do.rate_limit_wait:.1f} s"


def test_retry_after_is_bounded_by_the_setting(sim):
    sim.set_faults(fault_429_every=1, retry_after=3600)
    do = driver(sim, retries=2, max_retry_after=0.2)
    started = time.monotonic()
    with pytest.raises(TransientError, match="429"):
        do.account()
    assert time.monotonic() - started < 2
    assert do.rate_limited == 3  # two retried, the last one given up on
    assert 0.35 <= do.rate_limit_wait < 1.5


def test_the_driver_paces_itself_before_the_hourly_budget_runs_out(sim, settings):
    """A token with 8 requests left in its (shrunken: 2 s) hour: 12 calls spread over the time
    to ratelimit-reset instead of meeting 429s. The same calls unpaced do meet them."""
    settings.DIGITALOCEAN_PACE_BELOW = 10
    sim.set_faults(rate_limit_hour=30, rate_time_scale=2 / 3600)

    def twelve_calls(do):
        sim.server.limiter.reset()
        sim.spend(TOKEN, 22)
        for _ in range(12):
            do.regions()
        return do

    paced = twelve_calls(driver(sim, retries=8, max_retry_after=10))
    assert paced.rate_limited == 0
    assert paced.rate_limit_wait > 0.5  # spread over the time to the reset
    assert "s of it pacing before the limit)" in paced.rate_limit_summary()
    unpaced = twelve_calls(driver(sim, retries=8, max_retry_after=10, pace=False))
    assert unpaced.rate_limited >= 1


@pytest.mark.django_db
def test_every_answer_and_every_retried_429_is_in_the_metrics(sim):
    from core import metrics
    from core.models import MetricCounter

    sim.set_faults(fault_429_every=2, retry_after=0)
    do = driver(sim)
    do.account()
    do.account()  # 429 retried inside the adapter, then 200
    metrics.flush()
    series = {
        (c.labels["path"], c.labels["status"]): c.value
        for c in MetricCounter.objects.filter(name="edge_digitalocean_requests")
    }
    assert series == {("/v2/account", "200"): 2, ("/v2/account", "429"): 1}
