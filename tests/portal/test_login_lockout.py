"""Login brute force (django-axes): a username or an address with too many failed logins is
locked out, the right password included, until the cool-off passes or an operator unlocks it."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

RIGHT = "pw-alice-123"  # tests/conftest.py's owner


def log_in(client, username, password, address="127.0.0.1", path="/login/", **headers):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_the_user_and_the_right_one_then_fails(client, owner):
    answers = [log_in(client, "alice", f"guess-{i}").status_code for i in range(30)]
    assert answers == [200] * 4 + [429] * 26
    locked = log_in(client, "alice", RIGHT)
    assert locked.status_code == 429 and not logged_in(client)
    assert locked["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Login locked" in page and "even with the right password, for 15" in page
    assert client.get("/").status_code == 302  # still sent to the login page


def test_a_few_typos_then_the_right_password_log_in(client, owner):
    for i in range(4):
        assert log_in(client, "alice", f"typo-{i}").status_code == 200
    assert log_in(client, "alice", RIGHT).status_code == 302 and logged_in(client)


def test_the_lockout_is_per_username_from_any_address(owner, outsider):
    for i in range(5):
        log_in(Client(), "alice", "guess", address=f"203.0.113.{i}")
    fresh = Client()
    assert log_in(fresh, "alice", RIGHT, address="203.0.113.99").status_code == 429
    assert not logged_in(fresh)
    # Only alice: another user from that address logs in.
    assert log_in(fresh, "mallory", "pw-mallory-123", address="203.0.113.99").status_code == 302


def test_the_lockout_is_per_address_for_any_usernames(owner, outsider):
    """A password spray: one guess each for many usernames, from one address."""
    sprayer = Client()
    for name in ("alice", "bob", "carol", "dave", "erin"):
        log_in(sprayer, name, "Summer2026!", address="203.0.113.5")
    assert log_in(sprayer, "mallory", "pw-mallory-123", address="203.0.113.5").status_code == 429
    assert not logged_in(sprayer)
    elsewhere = Client()
    assert log_in(elsewhere, "mallory", "pw-mallory-123", address="198.51.100.1").status_code == 302


def test_a_forged_forwarded_for_header_does_not_give_a_fresh_address(client, owner):
    for i in range(5):
        log_in(client, f"user{i}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    assert log_in(client, "alice", RIGHT, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_the_admin_login_is_locked_too(client, operator):
    for _ in range(5):
        log_in(client, "oper", "guess", path="/admin/login/?next=/admin/")
    locked = log_in(client, "oper", "pw-oper-123", path="/admin/login/?next=/admin/")
    assert locked.status_code == 429 and not logged_in(client)


def test_the_lockout_ends_after_the_cool_off(client, owner):
    for _ in range(5):
        log_in(client, "alice", "guess")
    assert log_in(client, "alice", RIGHT).status_code == 429
    # The refused right password restarted the cool-off; age every failure past it.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, "alice", RIGHT).status_code == 302 and logged_in(client)


def test_an_operator_unlocks_in_the_admin(client, owner, operator):
    for _ in range(5):
        log_in(client, "alice", "guess")
    admin = Client()
    admin.force_login(operator)
    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes").content.decode()
    assert "alice" in listing and "Locked Out" in listing
    attempt = AccessAttempt.objects.get(username="alice")
    url = f"/admin/axes/accessattempt/{attempt.pk}/delete/"
    assert admin.post(url, {"post": "yes"}).status_code == 302
    assert log_in(client, "alice", RIGHT).status_code == 302 and logged_in(client)


def test_an_operator_unlocks_with_axes_reset_username(client, owner):
    for _ in range(5):
        log_in(client, "alice", "guess")
    out = StringIO()
    call_command("axes_reset_username", "alice", stdout=out)
    assert out.getvalue() == "1 attempts removed.\n"
    assert log_in(client, "alice", RIGHT).status_code == 302 and logged_in(client)


def test_an_operator_unlocks_an_address_with_axes_reset_ip(client, owner):
    for name in ("bob", "carol", "dave", "erin", "frank"):
        log_in(client, name, "guess", address="203.0.113.5")
    assert log_in(client, "alice", RIGHT, address="203.0.113.5").status_code == 429
    call_command("axes_reset_ip", "203.0.113.5", stdout=StringIO())
    assert log_in(client, "alice", RIGHT, address="203.0.113.5").status_code == 302
