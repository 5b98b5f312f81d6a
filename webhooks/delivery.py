"""Sending deliveries: one POST per try through core.outbound's guard (the address checked at
the moment of sending, so a name that now resolves to 127.0.0.1 gets nothing), signed when it
is sent, tried again with backoff until WEBHOOK_MAX_ATTEMPTS tries, then FAILED.

A try is claimed with a conditional UPDATE before anything is sent: the row must still be
PENDING, due, and at the attempt count read, and the claim pushes `next_attempt_at` past the
try's timeout. Of two workers (the first try's task and a monitoring cycle's pump, or two
pumps) exactly one sends; a worker that dies mid-try leaves the row due again once its claim
runs out, and the receiver sees the same idempotency key.
"""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core import outbound
from core.crypto import SecretUnreadable
from jobs.queue import enqueue_on_commit
from webhooks import signing
from webhooks.choices import DeliveryState
from webhooks.models import Delivery

log = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd... failed try; the last repeats.
BACKOFF = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600)
USER_AGENT = "EdgePortal-Webhooks/1"
# How many due deliveries one pump sends: the rest wait for the next cycle.
PUMP_BATCH = 200


def backoff(attempts: int) -> timedelta:
    """The wait after `attempts` failed tries."""
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def _claim_seconds() -> float:
    connect, read = settings.WEBHOOK_TIMEOUT
    return connect + read + 30


def attempt(pk: int, now=None) -> Delivery | None:
    """Try delivery `pk` once if it is due; None when it is not (done, not due, or another
    worker has it)."""
    now = now or timezone.now()
    found = Delivery.objects.filter(pk=pk).values_list("attempts", flat=True).first()
    if found is None:
        return None
    claimed = Delivery.objects.filter(
        pk=pk, state=DeliveryState.PENDING, next_attempt_at__lte=now, attempts=found
    ).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + timedelta(seconds=_claim_seconds()),
        last_attempt_at=now,
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("webhook").get(pk=pk)
    status, error = _send(delivery, now)
    _record(delivery, status, error, now)
    return delivery


def _send(delivery: Delivery, now) -> tuple[int | None, str]:
    hook = delivery.webhook
    try:
        secret = hook.get_secret()
    except SecretUnreadable:
        return None, "the webhook's secret cannot be read (FERNET_KEYS)"
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    key = str(delivery.key)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": key,
        "Idempotency-Key": key,
        "Webhook-Event": delivery.event,
        "Webhook-Timestamp": str(timestamp),
        signing.HEADER: signing.sign(secret, timestamp, body),
    }
    try:
        status = outbound.post(
            hook.url,
            body,
            headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            verify=settings.WEBHOOK_CA_BUNDLE or True,
        )
    except outbound.FetchError as exc:
        return None, exc.reason
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"


def _record(delivery: Delivery, status: int | None, error: str, now) -> None:
    fields = {"last_status": status, "last_error": error[:300]}
    if not error:
        fields.update(state=DeliveryState.DELIVERED, next_attempt_at=None, delivered_at=now)
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(state=DeliveryState.FAILED, next_attempt_at=None)
    else:
        fields["next_attempt_at"] = now + backoff(delivery.attempts)
    # Only while the claim is ours (same attempt count): a try that outlived its claim does
    # not overwrite the one that took over.
    Delivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, state=DeliveryState.PENDING
    ).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)
    if error:
        log.info(
            "webhook %s delivery %s try %s: %s",
            delivery.webhook_id,
            delivery.pk,
            delivery.attempts,
            error,
        )


def due(now=None):
    now = now or timezone.now()
    return Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)


def deliver_due(now=None) -> int:
    """Try every delivery that is due now (at most PUMP_BATCH, oldest due first); returns how
    many were tried here. Also forgets deliveries older than WEBHOOK_RETENTION_DAYS."""
    now = now or timezone.now()
    prune(now)
    tried = 0
    pks = list(due(now).order_by("next_attempt_at").values_list("pk", flat=True)[:PUMP_BATCH])
    for pk in pks:
        if attempt(pk, now) is not None:
            tried += 1
    return tried


def prune(now=None) -> int:
    now = now or timezone.now()
    before = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted, _ = (
        Delivery.objects.filter(created_at__lt=before).exclude(state=DeliveryState.PENDING).delete()
    )
    return deleted


def cycle_ended(report) -> None:
    """monitoring.cyclehooks.cycle_ended: the retries due are sent by a task on a worker, so a
    slow receiver never holds the cycle up."""
    if due().exists():
        enqueue_on_commit("webhooks.jobs.deliver_due", task_name="webhook retries", robust=True)
