"""Console sessions: open one within the user's limit, mark it alive, end it. The only code that
writes ConsoleSession rows; the consumer calls these through database_sync_to_async."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consoles.choices import EndReason
from consoles.models import ConsoleSession

# A row not marked alive for this many beats belongs to a process that died without ending it.
STALE_BEATS = 3


class LimitReached(Exception):
    pass


def _stale_before():
    return timezone.now() - timedelta(seconds=STALE_BEATS * settings.CONSOLE_BEAT_SECONDS)


def end_lost(sessions=None) -> int:
    """Open sessions not marked alive for STALE_BEATS beats belong to a process that died
    without ending them (a SIGKILLed web process, a lost machine): ended at their last sign of
    life, LOST. Every worker's supervisor tick runs this (portal/supervisor.py), so the
    audit and the open-session lists are true within a few beats, not only at the owner's next
    open. Returns how many it ended."""
    sessions = ConsoleSession.objects.open() if sessions is None else sessions
    return sessions.filter(seen_at__lt=_stale_before()).update(
        ended_at=F("seen_at"), end_reason=EndReason.LOST
    )


def open_session(user, target, address: str | None, via: str) -> ConsoleSession:
    """A new open session row, or LimitReached when the user holds CONSOLE_MAX_PER_USER.

    Count and insert run under a lock on the user's row (PostgreSQL; SQLite's IMMEDIATE
    transactions serialize every writer), so two processes opening at once cannot both pass a
    count of max - 1."""
    limit = settings.CONSOLE_MAX_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        mine = ConsoleSession.objects.open().filter(owner=user)
        # Sessions of a dead process stop counting now, not a supervisor tick later.
        end_lost(mine)
        held = mine.count()
        if held >= limit:
            raise LimitReached(
                f"you already have {held} console session(s) open, the most one user may hold "
                f"at once is {limit}: close one first"
            )
        return ConsoleSession.objects.create(
            owner=user,
            username=user.get_username(),
            vm=target.vm,
            host=target.host,
            target=target.label[:200],
            via=via,
            client_address=address or None,
        )


def beat(session_id: int, bytes_in: int, bytes_out: int) -> None:
    ConsoleSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        seen_at=timezone.now(), bytes_in=bytes_in, bytes_out=bytes_out
    )


def finish(
    session_id: int, reason: str, bytes_in: int, bytes_out: int, exit_status: int | None = None
) -> bool:
    """End the session once (a conditional update: True if this call ended it)."""
    now = timezone.now()
    changed = ConsoleSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=now,
        seen_at=now,
        end_reason=reason,
        exit_status=exit_status,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
    )
    return changed == 1
