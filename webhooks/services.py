"""Webhook operations: the only code that creates, changes and deletes a group's webhooks and
records the events they are to be told of. Only the group's admins and the operators manage
them (models.WebhookQuerySet); pages, API, admin and CLI call these."""

import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from core import crypto, outbound
from core.group_services import find_group
from core.groups import Group, Role, personal_group
from core.tenancy import CHANGE, VIEW, acting_role, scope_of
from jobs.queue import enqueue_on_commit
from webhooks import signing
from webhooks.choices import PING, WebhookEvent
from webhooks.models import Delivery, Webhook

URL_LIMIT = 2000


def check_url(url) -> str:
    """HTTPS only (the body and its signature travel to the receiver; a signature proves who
    sent it, not that nobody read it), and an address core.outbound allows. A name that does
    not resolve yet is accepted: every delivery checks again, at the address it connects to."""
    url = str(url or "").strip()
    if len(url) > URL_LIMIT:
        raise ValidationError({"url": f"at most {URL_LIMIT} characters"})
    try:
        outbound.parse(url)
        if not url.lower().startswith("https://"):
            raise ValidationError({"url": f"{url!r}: webhooks are sent over https only"})
        outbound.check_url(url)
    except outbound.URLRefused as exc:
        raise ValidationError({"url": exc.message}) from None
    return url


def check_events(events) -> list[str]:
    if isinstance(events, str):
        events = [e for e in events.replace(",", " ").split() if e]
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError(
            {"events": f"name at least one event: {', '.join(WebhookEvent.values)}"}
        )
    unknown = [str(e) for e in events if e not in WebhookEvent.values]
    if unknown:
        raise ValidationError(
            {
                "events": f"unknown event(s) {', '.join(map(repr, unknown))}: "
                f"choose from {', '.join(WebhookEvent.values)}"
            }
        )
    return [e for e in WebhookEvent.values if e in events]  # one order, no repeats


def managed_group(user, ref) -> Group:
    """The group whose webhooks `user` is to manage: one they admin (or any, for an operator).
    Another tenant's group is not found; a member or viewer is told only admins may."""
    scope = scope_of(user)
    if ref not in (None, ""):
        group = find_group(user, ref)
    elif scope is not None:  # a group-limited token: its group
        group = Group.objects.get(pk=scope.group_id)
    else:
        group = personal_group(user)
    role = acting_role(user, group.pk)
    if role is None:
        raise ValidationError({"group": f"group {group.name!r} not found"})
    if role != Role.ADMIN:
        raise PermissionDenied(
            f"you act as a {role} in group {group.name}: only its admins and the operators "
            "manage its webhooks"
        )
    return group


def visible(user):
    return Webhook.objects.for_user(user, VIEW).select_related("group", "created_by")


def get(user, pk) -> Webhook:
    found = Webhook.objects.for_user(user, CHANGE).select_related("group").filter(pk=pk).first()
    if found is None:
        raise Http404("webhook not found")
    return found


def _check_may_change(user, hook: Webhook) -> None:
    if not Webhook.objects.for_user(user, CHANGE).filter(pk=hook.pk).exists():
        raise Http404("webhook not found")


def create(user, url, events, group=None, active: bool = True) -> tuple[Webhook, str]:
    """A new webhook and its secret, which is returned here and never again."""
    group = managed_group(user, group)
    url, events = check_url(url), check_events(events)
    secret = signing.new_secret()
    hook = Webhook.objects.create(
        group=group,
        url=url,
        events=events,
        active=bool(active),
        secret_encrypted=crypto.encrypt(secret),
        secret_hint=crypto.mask(secret),
        created_by=user,
    )
    return hook, secret


def update(user, hook: Webhook, *, url=None, events=None, active=None) -> Webhook:
    _check_may_change(user, hook)
    fields = {}
    if url is not None:
        fields["url"] = check_url(url)
    if events is not None:
        fields["events"] = check_events(events)
    if active is not None:
        fields["active"] = bool(active)
    if fields:
        Webhook.objects.filter(pk=hook.pk).update(**fields)
        for name, value in fields.items():
            setattr(hook, name, value)
    return hook


def rotate_secret(user, hook: Webhook) -> str:
    """A new secret, returned once; deliveries still to be tried are signed with it (each try
    is signed when it is sent)."""
    _check_may_change(user, hook)
    secret = signing.new_secret()
    Webhook.objects.filter(pk=hook.pk).update(
        secret_encrypted=crypto.encrypt(secret), secret_hint=crypto.mask(secret)
    )
    hook.secret_hint = crypto.mask(secret)
    return secret


def delete(user, hook: Webhook) -> None:
    _check_may_change(user, hook)
    hook.delete()


def deliveries(user, hook: Webhook):
    _check_may_change(user, hook)
    return hook.deliveries.all()


def ping(user, hook: Webhook) -> Delivery:
    """A `ping` event for this webhook alone (active or not), to check the receiver."""
    _check_may_change(user, hook)
    body = {"webhook": hook.pk, "text": f"ping from {user.username}"}
    with transaction.atomic():
        return _record([hook], PING, hook.group, body)[0]


def emit(group_id, event: str, data: dict) -> list[Delivery]:
    """Record `event` for each of the group's active webhooks that asked for it, and send each
    once this transaction commits. One query when the group has no webhook."""
    if group_id is None:
        return []
    hooks = [
        hook
        for hook in Webhook.objects.filter(group_id=group_id, active=True).select_related("group")
        if event in hook.events
    ]
    if not hooks:
        return []
    with transaction.atomic():
        return _record(hooks, event, hooks[0].group, data)


def _record(hooks, event: str, group, data: dict) -> list[Delivery]:
    key = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(key),
        "event": event,
        "created_at": now.isoformat(),
        "group": {"id": group.pk, "name": group.name},
        # Decimals (prices, CPUs) and dates as JSON strings, as the API gives them.
        "data": json.loads(DjangoJSONEncoder().encode(data)),
    }
    made = Delivery.objects.bulk_create(
        Delivery(webhook=hook, event=event, key=key, payload=payload, next_attempt_at=now)
        for hook in hooks
    )
    if made and made[0].pk is None:  # backends that do not return IDs from a bulk insert
        made = list(Delivery.objects.filter(key=key))
    for delivery in made:
        enqueue_on_commit(
            "webhooks.jobs.deliver",
            delivery.pk,
            task_name=f"webhook delivery {delivery.pk}",
            robust=True,
        )
    return made
