"""What core.signals tells, turned into webhook events for the group it concerns. Connected in
WebhooksConfig.ready(); each runs once the change has committed (core.signals)."""

from core.groups import Membership
from provisions.choices import HostState
from provisions.models import Host, Provision
from vms.models import VM
from webhooks import services
from webhooks.choices import WebhookEvent


def _actor(actor) -> str | None:
    return getattr(actor, "username", None)


def on_state_changed(sender, obj, from_state, to_state, source, actor=None, reason="", **_):
    change = {
        "from": from_state,
        "to": to_state,
        "source": source,
        "actor": _actor(actor),
        "reason": reason,
    }
    if isinstance(obj, VM):
        data = {"vm": {"id": obj.pk, "name": obj.name}, **change}
        services.emit(obj.group_id, WebhookEvent.VM_STATE, data)
    elif isinstance(obj, Provision):
        data = {"provision": {"id": obj.pk, "name": obj.name}, **change}
        services.emit(obj.group_id, WebhookEvent.PROVISION_STATE, data)
    elif isinstance(obj, Host) and to_state == HostState.ERROR:
        provision = Provision.objects.filter(pk=obj.provision_id).values("pk", "name", "group_id")
        provision = provision.first()
        if provision is None:
            return
        data = {
            "host": {"id": obj.pk, "name": obj.name},
            "provision": {"id": provision["pk"], "name": provision["name"]},
            "problem": getattr(obj, "problem", ""),
            **change,
        }
        services.emit(provision["group_id"], WebhookEvent.HOST_ERROR, data)


def on_quota_warning(sender, resource, used, limit, text, group=None, user=None, **_):
    """A user's own quota (no group) is told to their primary group's webhooks: where their
    objects go unless they pick another."""
    group_id = getattr(group, "pk", None)
    if group_id is None and user is not None:
        group_id = (
            Membership.objects.filter(user=user, primary=True)
            .values_list("group_id", flat=True)
            .first()
        )
    data = {
        "resource": resource,
        "used": used,
        "limit": limit,
        "text": text,
        "user": _actor(user),
        "scope": "group" if group is not None else "user",
    }
    services.emit(group_id, WebhookEvent.QUOTA_WARNING, data)


def on_budget_warning(sender, group, level, projected, budget, text, **_):
    data = {"level": level, "projected": projected, "budget": budget, "text": text}
    services.emit(getattr(group, "pk", None), WebhookEvent.BUDGET_WARNING, data)
