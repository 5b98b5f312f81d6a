"""The simulator's rate limits are DigitalOcean's: per token, 5,000 an hour and 250 a minute in
sliding windows, 10 key listings a minute, headers on every answer, retry-after on a 429."""

import time

import pytest
import requests

from lab.docsim import start_in_thread
from lab.docsim.options import Options
from lab.docsim.ratelimit import RateLimiter
from tests.contract.session import checked

TOKEN = "lab-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def limiter(**options):
    clock = Clock()
    return RateLimiter(Options(**options), clock=clock), clock


def test_minute_window_slides_instead_of_resetting_at_the_minute():
    rl, clock = limiter()
    rl.spend(TOKEN, 200)
    clock.now += 30
    rl.spend(TOKEN, 49)
    assert rl.take(TOKEN).allowed  # the 250th of the last minute
    refused = rl.take(TOKEN)
    assert not refused.allowed and refused.why == "per-minute"
    assert refused.retry_after == 30  # when the first 200 expire
    clock.now += 30  # the first 200 are a minute old: they no longer count
    for _ in range(200):
        assert rl.take(TOKEN).allowed
    # ...but the 50 made at +30 s still do: a reset at the minute would have let this through.
    assert not rl.take(TOKEN).allowed


def test_hourly_window_gives_the_headers_and_the_reset_of_the_oldest_request():
    rl, clock = limiter(rate_limit_minute=10**6)
    first = rl.take(TOKEN)
    assert (first.limit, first.remaining, first.reset) == (5000, 4999, clock.now + 3600)
    clock.now += 600
    rl.spend(TOKEN, 4998)
    last = rl.take(TOKEN)
    assert last.allowed and last.remaining == 0
    assert last.reset == clock.now - 600 + 3600  # still the oldest request's expiry
    refused = rl.take(TOKEN)
    assert not refused.allowed and refused.why == "hourly"
    assert refused.retry_after == 3000
    clock.now += 3000  # the first request expires: one slot, and the next oldest sets reset
    again = rl.take(TOKEN)
    assert again.allowed and again.remaining == 0 and again.reset == clock.now + 600


def test_refused_requests_do_not_count():
    rl, clock = limiter(rate_limit_minute=2)
    assert rl.take(TOKEN).allowed and rl.take(TOKEN).allowed
    for _ in range(5):
        assert not rl.take(TOKEN).allowed
    assert rl.peek(TOKEN).remaining == 4998


def test_only_ten_key_listings_a_minute_and_other_calls_go_on():
    rl, clock = limiter()
    for _ in range(10):
        assert rl.take(TOKEN, listing_keys=True).allowed
    refused = rl.take(TOKEN, listing_keys=True)
    assert not refused.allowed and refused.why == "GET /v2/account/keys"
    assert refused.retry_after == 60
    assert rl.take(TOKEN).allowed
    clock.now += 60
    assert rl.take(TOKEN, listing_keys=True).allowed


def test_tokens_have_their_own_windows():
    rl, clock = limiter(rate_limit_minute=1)
    assert rl.take("a").allowed and not rl.take("a").allowed
    assert rl.take("b").allowed


def test_time_scale_shrinks_the_windows_not_the_limits():
    rl, clock = limiter(rate_time_scale=0.01)
    rl.spend(TOKEN, 250)
    refused = rl.take(TOKEN)
    assert not refused.allowed and refused.retry_after == 1  # 0.6 s, in whole seconds
    clock.now += 0.6
    verdict = rl.take(TOKEN)
    assert verdict.allowed and verdict.reset == pytest.approx(clock.now - 0.6 + 36, abs=1)


@pytest.fixture
def sim():
    server = start_in_thread(port=0, rate_time_scale=0.02)  # a minute lasts 1.2 s
    try:
        with checked(server, requests=False):
            yield server
    finally:
        server.stop()


def test_every_answer_carries_the_headers_and_a_429_retry_after(sim):
    answers = {
        "ok": requests.get(sim.url + "/v2/account", headers=HEADERS),
        "not found": requests.get(sim.url + "/v2/droplets/1", headers=HEADERS),
        "unauthorized": requests.get(sim.url + "/v2/account", headers={"Authorization": "x"}),
    }
    spent = requests.post(sim.url + "/_sim/spend", json={"token": TOKEN, "requests": 250})
    assert spent.json()["ratelimit-remaining"] == 5000 - 2 - 250  # the two above count too
    answers["limited"] = requests.get(sim.url + "/v2/account", headers=HEADERS)
    for name, answer in answers.items():
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
            k.lower() for k in answer.headers
        ), name
    assert answers["unauthorized"].status_code == 401
    assert answers["unauthorized"].headers["ratelimit-remaining"] == "5000"  # not charged
    limited = answers["limited"]
    assert limited.status_code == 429 and limited.headers["retry-after"] in ("1", "2")
    assert limited.json()["id"] == "too_many_requests" and limited.json()["request_id"]
    time.sleep(1.3)  # the shrunken minute passes
    assert requests.get(sim.url + "/v2/account", headers=HEADERS).status_code == 200
    assert sim.state()["api_calls"]["rate_limited"] == {"per-minute": 1}
