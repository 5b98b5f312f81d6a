"""The CLI against a live portal that rate-limits it: it says so, waits Retry-After and retries a
few times, then fails with the portal's reason; a long block fails at once."""

import os

import pytest
from django.core.cache import cache

from cli import oneprovider
from cli.client import Client
from core.api import token_failures as api_token_failures
from tests.cli.helpers import run_cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def naps(monkeypatch):
    """The CLI's waits, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(Client, "sleep", staticmethod(slept.append))
    return slept


@pytest.fixture
def one_call_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1/min", "anon": "1/min"},
    }


def test_a_rate_limited_command_waits_and_retries(
    cli_env, capsys, naps, one_call_a_minute, monkeypatch
):
    assert run_cli(capsys, oneprovider, "list")[0] == 0

    def minute_passes(seconds):
        naps.append(seconds)
        cache.clear()

    monkeypatch.setattr(Client, "sleep", staticmethod(minute_passes))
    code, out, err = run_cli(capsys, oneprovider, "list")
    assert code == 0 and "digitalocean-amsterdam" in out
    assert len(naps) == 1 and 55 <= naps[0] <= 60
    assert err == f"oneprovider: rate limited by the portal; retrying in {naps[0]} s\n"


def test_it_gives_up_after_three_retries_with_the_portals_reason(
    cli_env, capsys, naps, one_call_a_minute
):
    assert run_cli(capsys, oneprovider, "list")[0] == 0
    code, out, err = run_cli(capsys, oneprovider, "list")
    lines = err.splitlines()
    assert code == 1 and out == "" and len(naps) == 3
    assert lines[:3] == [
        f"oneprovider: rate limited by the portal; retrying in {wait} s" for wait in naps
    ]
    assert lines[3].startswith("oneprovider: Request was throttled. Expected available in")
    assert len(lines) == 4


def test_a_blocked_address_fails_at_once(cli_env, capsys, naps, settings, monkeypatch):
    settings.API_TOKEN_FAILURE_LIMIT = 1
    monkeypatch.setattr(api_token_failures, "now", lambda: 1_000_000.0)
    right = os.environ["PORTAL_TOKEN"]  # cli_env's
    monkeypatch.setenv("PORTAL_TOKEN", "ep_wrong")
    assert run_cli(capsys, oneprovider, "list")[2] == (
        "oneprovider: Invalid, expired or revoked API token.\n"
    )
    monkeypatch.setenv("PORTAL_TOKEN", right)
    code, out, err = run_cli(capsys, oneprovider, "list")
    assert (code, out, naps) == (1, "", [])
    assert err == (
        "oneprovider: Too many failed API token attempts from this address. "
        "Expected available in 600 seconds.\n"
    )
