"""API brute force and rate limits: guessed tokens block their address (429 with Retry-After, a
right token included), each user has a request budget, anonymous calls one per address."""

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.api import token_failures as api_token_failures
from core.client_address import client_address
from core.env import ImproperlyConfiguredEnv, env_rate
from core.models import ApiToken, UserProfile
from tests.factories import new_key

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"


def call(raw_token=None, address=ATTACKER, method="get", path="/api/providers/", **kwargs):
    client = APIClient(REMOTE_ADDR=address)
    if raw_token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return getattr(client, method)(path, **kwargs)


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rates


def test_hundred_guessed_tokens_block_the_address_even_for_the_right_token(api, owner, monkeypatch):
    monkeypatch.setattr(api_token_failures, "now", lambda: 1_000_000.0)  # Retry-After exact
    answers = [call(f"ep_guess{i:04d}").status_code for i in range(100)]
    assert answers == [401] * 20 + [429] * 80
    refused = call(api.raw_token)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "600"
    assert refused.json() == {
        "detail": "Too many failed API token attempts from this address. "
        "Expected available in 600 seconds."
    }
    # Refused before the token was looked up: nothing about it changed.
    assert ApiToken.objects.get(owner=owner).last_used_at is None


def test_a_blocked_address_changes_nothing(api, owner):
    for i in range(20):
        call(f"ep_guess{i}")
    public, _ = new_key()
    answer = call(
        api.raw_token,
        method="put",
        path="/api/account/ssh-key/",
        data={"ssh_public_key": public},
        format="json",
    )
    assert answer.status_code == 429
    assert not UserProfile.objects.filter(user=owner, ssh_public_key=public).exists()


def test_other_addresses_are_not_blocked(api):
    for i in range(20):
        call(f"ep_guess{i}")
    assert call(api.raw_token, address="198.51.100.1").status_code == 200


def test_failures_are_counted_per_address(api):
    for i in range(19):
        assert call(f"ep_a{i}", address="198.51.100.1").status_code == 401
        assert call(f"ep_b{i}", address="198.51.100.2").status_code == 401
    assert call(api.raw_token, address="198.51.100.1").status_code == 200
    assert call(api.raw_token, address="198.51.100.2").status_code == 200


def test_malformed_authorization_headers_count_as_failures(api):
    client = APIClient(REMOTE_ADDR=ATTACKER, HTTP_AUTHORIZATION="Bearer two parts")
    assert [client.get("/api/providers/").status_code for _ in range(21)][-2:] == [401, 429]


def test_a_forged_forwarded_for_header_does_not_escape_the_count(api):
    for i in range(20):
        client = APIClient(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"10.1.{i}.1")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer ep_guess{i}")
        client.get("/api/providers/")
    assert call(api.raw_token).status_code == 429


def test_the_block_lifts_after_the_window(api, monkeypatch):
    for i in range(20):
        call(f"ep_guess{i}")
    assert call(api.raw_token).status_code == 429
    later = api_token_failures.now() + 601
    monkeypatch.setattr(api_token_failures, "now", lambda: later)
    assert call(api.raw_token).status_code == 200


def test_a_user_over_the_rate_gets_429_with_retry_after(rates, api, owner, outsider_api):
    rates(user="5/min", anon="5/min")
    assert [api.get("/api/providers/").status_code for _ in range(5)] == [200] * 5
    refused = api.get("/api/providers/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled. Expected available in")
    # The budget is the user's: another token of theirs is refused too, another user is not.
    _, second = ApiToken.issue(owner, "second")
    assert call(second, address="198.51.100.3").status_code == 429
    assert outsider_api.get("/api/providers/").status_code == 200


def test_a_throttled_write_changes_nothing(rates, api, owner):
    rates(user="1/min", anon="1/min")
    assert api.get("/api/account/ssh-key/").status_code == 200
    public, _ = new_key()
    answer = api.put("/api/account/ssh-key/", {"ssh_public_key": public}, format="json")
    assert answer.status_code == 429
    assert not UserProfile.objects.filter(user=owner, ssh_public_key=public).exists()


def test_anonymous_calls_are_throttled_per_address(rates, db):
    rates(user="100/min", anon="3/min")
    assert [call(path="/api/schema/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert call(path="/api/schema/", address="198.51.100.4").status_code == 200


def test_the_default_rates_leave_room_for_polling(api, settings):
    # A `--wait` CLI asks twice a second (120 a minute), the pages' charts a few times a minute.
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": "1200/min",
        "anon": "60/min",
    }
    assert all(api.get("/api/providers/").status_code == 200 for _ in range(120))


def test_the_schema_describes_429(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    response = schema["paths"]["/api/providers/"]["get"]["responses"]["429"]
    assert "Retry-After" in response["headers"]
    assert "detail" in response["content"]["application/json"]["schema"]["properties"]
    assert all(
        "429" in operation["responses"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "10.0.0.1", "192.0.2.1"),  # no proxy: the header is the client's own words
        (1, "10.0.0.1", "10.0.0.1"),
        (1, "6.6.6.6, 10.0.0.1", "10.0.0.1"),  # the client wrote 6.6.6.6; the proxy appended
        (2, "6.6.6.6, 10.0.0.1, 172.16.0.1", "10.0.0.1"),
        (1, "not-an-address", "192.0.2.1"),
        (1, None, "192.0.2.1"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", **headers)
    assert client_address(request) == expected


def test_a_bad_rate_in_the_environment_fails_loudly(monkeypatch):
    monkeypatch.setenv("API_RATE_USER", "fast")
    with pytest.raises(ImproperlyConfiguredEnv, match="API_RATE_USER='fast' is not a rate"):
        env_rate("API_RATE_USER", "600/min")
    monkeypatch.setenv("API_RATE_USER", "10/fortnight")
    with pytest.raises(ImproperlyConfiguredEnv):
        env_rate("API_RATE_USER", "600/min")
    monkeypatch.setenv("API_RATE_USER", "1200/minute")
    assert env_rate("API_RATE_USER", "600/min") == "1200/minute"
