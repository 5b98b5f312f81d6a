"""Deliveries to a local HTTPS receiver: signed, with the event's idempotency key, retried with
backoff after a refusal (the clock advanced, never slept), given up after the last try, and
never sent to an address the allow-list does not name, checked again when sending."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import EventSource
from core.transitions import transition
from tests.local_http import fake_dns
from tests.webhooks.helpers import client_of, signature_ok
from vms import services as vm_services
from webhooks import delivery, services
from webhooks.choices import DeliveryState
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"  # a global address; nothing here connects to it


def make_hook(owner, url, events=("vm.state",)):
    return services.create(owner, url, list(events))


def only_delivery() -> Delivery:
    return Delivery.objects.get()


def test_a_vm_state_change_reaches_the_receiver_signed_with_its_key(
    owner, cluster, template, receiver, settings, django_capture_on_commit_callbacks
):
    created = client_of(owner).post(
        "/api/webhooks/", {"url": receiver.url(), "events": ["vm.state"]}, format="json"
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    settings.JOBS_SYNC = True  # the first try's task runs here, once the change commits
    with django_capture_on_commit_callbacks(execute=True):
        transition(vm, "RUNNING", {"PENDING"}, source=EventSource.JOB, actor=owner, reason="up")
    [got] = receiver.seen
    assert got.path == "/hook"
    assert signature_ok(secret, got.headers["Webhook-Signature"], got.body)
    assert not signature_ok("whsec_other", got.headers["Webhook-Signature"], got.body)
    body = json.loads(got.body)
    sent = only_delivery()
    assert got.headers["Webhook-Id"] == got.headers["Idempotency-Key"] == str(sent.key)
    assert body["id"] == str(sent.key) and got.headers["Webhook-Event"] == "vm.state"
    assert body["event"] == "vm.state" and body["group"]["name"] == "alice"
    assert body["data"] == {
        "vm": {"id": vm.pk, "name": "web"},
        "from": "PENDING",
        "to": "RUNNING",
        "source": "job",
        "actor": "alice",
        "reason": "up",
    }
    assert got.headers["Webhook-Timestamp"] in got.headers["Webhook-Signature"]
    assert (sent.state, sent.attempts, sent.last_status) == (DeliveryState.DELIVERED, 1, 200)
    assert secret not in json.dumps(got.headers)


def test_a_refused_delivery_is_retried_after_the_backoff_with_the_same_key(owner, receiver):
    receiver.statuses = [500, 200]
    hook, _ = make_hook(owner, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {"vm": {"id": 1}})
    start = timezone.now()
    delivery.attempt(sent.pk, now=start)
    sent.refresh_from_db()
    assert (sent.state, sent.attempts, sent.last_status) == ("PENDING", 1, 500)
    assert sent.last_error == "HTTP 500"
    assert sent.next_attempt_at == start + timedelta(minutes=1)
    assert delivery.deliver_due(now=start + timedelta(seconds=30)) == 0  # not due yet
    assert len(receiver.seen) == 1
    assert delivery.deliver_due(now=start + timedelta(seconds=61)) == 1
    sent.refresh_from_db()
    assert (sent.state, sent.attempts, sent.last_status) == ("DELIVERED", 2, 200)
    first, second = receiver.seen
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == str(sent.key)
    assert first.body == second.body
    log = client_of(owner).get(f"/api/webhooks/{hook.pk}/deliveries/").json()
    assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == [("DELIVERED", 2, 200)]


def test_a_delivery_is_given_up_after_the_last_try(owner, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [503]
    hook, _ = make_hook(owner, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {})
    now = timezone.now()
    for _ in range(5):
        delivery.deliver_due(now=now)
        now += timedelta(days=1)
    sent.refresh_from_db()
    assert (sent.state, sent.attempts, sent.next_attempt_at) == ("FAILED", 3, None)
    assert len(receiver.seen) == 3


def test_the_backoff_grows_and_then_repeats_its_last_step():
    waits = [delivery.backoff(n).total_seconds() for n in range(1, 8)]
    assert waits == [60, 300, 1800, 7200, 21600, 21600, 21600]


def test_a_delivery_claimed_by_another_worker_is_not_sent_twice(owner, receiver):
    hook, _ = make_hook(owner, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {})
    now = timezone.now()
    # Another worker's claim, as attempt() makes it, while it sends.
    Delivery.objects.filter(pk=sent.pk).update(
        attempts=1, next_attempt_at=now + timedelta(seconds=40)
    )
    assert delivery.attempt(sent.pk, now=now) is None
    assert delivery.deliver_due(now=now) == 0
    assert receiver.seen == []
    # A claim whose worker died runs out: the delivery is due again, with the same key.
    assert delivery.attempt(sent.pk, now=now + timedelta(minutes=1)) is not None
    assert [r.headers["Webhook-Id"] for r in receiver.seen] == [str(sent.key)]


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(receiver):
    """Threads with their own connections (truly at once on PostgreSQL, CI's second pass)."""
    from django.contrib.auth import get_user_model

    from tests.concurrency import run_in_threads

    dave = get_user_model().objects.create_user("dave", password="x")
    hook, _ = make_hook(dave, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {})
    errors = run_in_threads(lambda i: delivery.attempt(sent.pk), 4)
    assert errors == []
    assert len(receiver.seen) == 1
    sent.refresh_from_db()
    assert (sent.state, sent.attempts) == ("DELIVERED", 1)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:8443/",
        "https://10.0.0.5/",
        "http://example.com/hook",  # https only
        "ftp://example.com/",
    ],
)
def test_a_url_the_allow_list_does_not_name_is_refused_at_create(owner, url):
    answer = client_of(owner).post(
        "/api/webhooks/", {"url": url, "events": ["vm.state"]}, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert "url" in answer.json()["errors"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("bad", ["127.0.0.1", "169.254.169.254"])
def test_a_name_that_resolves_elsewhere_when_sending_gets_nothing(
    owner, receiver, settings, monkeypatch, bad
):
    """DNS rebinding: public when the webhook is made, loopback or the metadata service when
    the delivery is sent: checked again at the address used, so refused."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    fake_dns(monkeypatch, {"hooks.test": [[PUBLIC], [bad]]})
    hook, _ = make_hook(owner, f"https://hooks.test:{receiver.port}/hook")
    [sent] = services.emit(hook.group_id, "vm.state", {})
    delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert (sent.state, sent.last_status) == ("PENDING", None)
    assert sent.last_error == "hooks.test: address not allowed"
    assert receiver.seen == []


def test_a_receiver_that_cannot_be_reached_is_told_as_ours(owner, receiver, settings):
    hook, _ = make_hook(owner, "https://127.0.0.1:9/hook")  # nothing listens there
    [sent] = services.emit(hook.group_id, "vm.state", {})
    delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert (sent.state, sent.last_error) == ("PENDING", "cannot connect")


def test_an_untrusted_certificate_is_not_delivered_to(owner, receiver, settings):
    hook, _ = make_hook(owner, receiver.url())
    settings.WEBHOOK_CA_BUNDLE = ""  # the system's CAs: they never signed the receiver's
    [sent] = services.emit(hook.group_id, "vm.state", {})
    delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert sent.last_error == "TLS handshake or certificate failed"
    assert receiver.seen == []


def test_a_redirect_is_an_answer_not_followed(owner, receiver):
    receiver.statuses = [302]
    hook, _ = make_hook(owner, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {})
    delivery.attempt(sent.pk)
    sent.refresh_from_db()
    assert (sent.last_status, sent.last_error, len(receiver.seen)) == (302, "HTTP 302", 1)


def test_a_rotated_secret_signs_the_next_try(owner, receiver):
    receiver.statuses = [500, 200]
    hook, old = make_hook(owner, receiver.url())
    [sent] = services.emit(hook.group_id, "vm.state", {})
    now = timezone.now()
    delivery.attempt(sent.pk, now=now)
    new = services.rotate_secret(owner, hook)
    delivery.deliver_due(now=now + timedelta(minutes=2))
    first, second = receiver.seen
    assert signature_ok(old, first.headers["Webhook-Signature"], first.body)
    assert signature_ok(new, second.headers["Webhook-Signature"], second.body)
    assert not signature_ok(old, second.headers["Webhook-Signature"], second.body)


def test_the_pump_runs_after_a_monitoring_cycle_only_when_something_is_due(
    owner, receiver, django_capture_on_commit_callbacks
):
    from monitoring import cyclehooks

    assert delivery.cycle_ended in cyclehooks.cycle_ended.callables
    with django_capture_on_commit_callbacks() as queued:
        delivery.cycle_ended(None)
    assert queued == []
    hook, _ = make_hook(owner, receiver.url())
    services.emit(hook.group_id, "vm.state", {})
    with django_capture_on_commit_callbacks() as queued:
        delivery.cycle_ended(None)
    assert len(queued) == 1


def test_old_finished_deliveries_are_forgotten(owner, receiver, settings):
    hook, _ = make_hook(owner, receiver.url())
    [done] = services.emit(hook.group_id, "vm.state", {})
    [waiting] = services.emit(hook.group_id, "vm.state", {})
    Delivery.objects.filter(pk=done.pk).update(state="DELIVERED", next_attempt_at=None)
    later = timezone.now() + timedelta(days=settings.WEBHOOK_RETENTION_DAYS + 1)
    assert delivery.prune(later) == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [waiting.pk]


@pytest.mark.parametrize("url", ["https://169.254.169.254/", "https://127.0.0.2/hook"])
def test_the_allow_list_lets_through_only_what_it_names(owner, receiver, url):
    assert receiver.url().startswith("https://127.0.0.1:")  # allowed: 127.0.0.1/32
    assert make_hook(owner, receiver.url())[0].pk
    answer = client_of(owner).post(
        "/api/webhooks/", {"url": url, "events": ["vm.state"]}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["url"] == [f"{url.split('/')[2]}: address not allowed"]
