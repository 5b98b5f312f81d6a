"""State changes of provisions, hosts and VMs: one conditional UPDATE and one event row.

The UPDATE changes the row only while its state is still one of those the caller expects, so of
two changes racing (a job and monitoring, two workers) exactly one wins; the loser gets
InvalidTransition and decides what losing means for it (a job stops, monitoring lets the job's
change stand). The event row is written in the same transaction, so no change goes unrecorded.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.signals import state_changed

log = logging.getLogger(__name__)

REASON_LIMIT = 2000


class InvalidTransition(ValidationError):
    """The object is no longer in a state the change may start from: another change won."""


def transition(
    obj,
    to: str,
    expected,
    *,
    source: str,
    actor=None,
    reason: str = "",
    match: dict | None = None,
    also: dict | None = None,
) -> None:
    """Move `obj` (a model with `state` and an `events` relation to a core.models.Event) to
    `to` if its row is still in one of `expected` and matches `match` (monitoring passes what it
    saw, so it never overwrites a change made since), setting the fields in `also` with it, and
    append the event. `updated_at`, where the model has one, moves with every change. Raises
    InvalidTransition, changing nothing, when the row has moved on."""
    model = type(obj)
    expected = set(expected)
    fields = {"state": to, **(also or {})}
    if any(field.name == "updated_at" for field in model._meta.concrete_fields):
        fields["updated_at"] = timezone.now()
    rows = model.objects.filter(pk=obj.pk)
    with transaction.atomic():
        # With one expected state, a change that happens came from it: no read needed.
        current = (
            next(iter(expected))
            if len(expected) == 1
            else rows.values_list("state", flat=True).first()
        )
        if not rows.filter(state__in=expected, **(match or {})).update(**fields):
            current = rows.values_list("state", flat=True).first()
            raise InvalidTransition(
                f"{model._meta.verbose_name} {obj} is {current}; cannot go to {to} from there"
            )
        obj.events.create(
            source=source,
            actor=actor,
            from_state=current,
            to_state=to,
            reason=reason[:REASON_LIMIT],
        )
    for name, value in fields.items():
        setattr(obj, name, value)
    log.info("%s %s: %s -> %s (%s)", model._meta.model_name, obj.pk, current, to, reason)
    # Told once the change is committed (at once outside a transaction), never for one rolled
    # back; with nobody listening, the hot path registers nothing at all.
    if state_changed.has_listeners(model):
        told = {
            "obj": obj,
            "from_state": current,
            "to_state": to,
            "source": source,
            "actor": actor,
            "reason": reason[:REASON_LIMIT],
        }
        transaction.on_commit(lambda: _tell(model, told), robust=True)


def _tell(model, told: dict) -> None:
    # The change stands whatever a listener does: one that fails is logged, the others hear.
    for receiver, answer in state_changed.send_robust(sender=model, **told):
        if isinstance(answer, Exception):
            log.error("state_changed listener %r failed", receiver, exc_info=answer)
