"""The driver's pacing by DigitalOcean's rate-limit headers (providers/drivers/pacing.py)."""

import pytest

from providers.drivers.pacing import Pacer

NOW = 1_700_000_000.0


def pacer(remaining, reset_in, below=50, max_wait=60.0):
    slept = []
    p = Pacer(below, max_wait, clock=lambda: NOW, sleep=slept.append)
    p.observe({"ratelimit-remaining": str(remaining), "ratelimit-reset": str(int(NOW + reset_in))})
    return p, slept


def test_no_wait_while_plenty_is_left():
    p, slept = pacer(remaining=50, reset_in=600)
    assert p.wait() == 0 and slept == []


def test_the_last_requests_are_spread_over_the_time_to_the_reset():
    p, slept = pacer(remaining=10, reset_in=100)
    assert p.wait() == pytest.approx(10.0)  # 100 s for 10 requests
    assert p.wait() == pytest.approx(100 / 9)  # one of them is spent
    assert slept == [pytest.approx(10.0), pytest.approx(100 / 9)]


def test_none_left_waits_for_the_reset_and_never_longer_than_the_bound():
    assert pacer(remaining=0, reset_in=30)[0].delay() == pytest.approx(30)
    assert pacer(remaining=0, reset_in=3000, max_wait=60)[0].delay() == 60
    assert pacer(remaining=1, reset_in=3000, max_wait=60)[0].delay() == 60


def test_a_reset_in_the_past_or_no_headers_means_no_wait():
    assert pacer(remaining=0, reset_in=-5)[0].delay() == 0
    p = Pacer(50, 60.0, clock=lambda: NOW)
    p.observe({})
    assert p.delay() == 0


def test_pacing_off():
    assert pacer(remaining=0, reset_in=30, below=0)[0].delay() == 0
