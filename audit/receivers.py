"""Entries that come from signals rather than from a request's answer: logins, logouts and
failed logins (Django's), an API token's first use from an address (core.signals.token_used),
and the object a request created (post_save, noted for the request's entry)."""

import functools
import logging

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction

from audit import choices, recording
from audit.choices import Outcome
from audit.models import AuditEntry, TokenAddress
from core import acting
from core.client_address import client_address
from core.groups import Group

log = logging.getLogger(__name__)


def never_raises(receiver):
    """A signal's receiver runs inside the login or the request that sent it: an audit failure
    is logged, never theirs."""

    @functools.wraps(receiver)
    def wrapper(*args, **kwargs):
        try:
            receiver(*args, **kwargs)
        except Exception:
            log.exception("audit: %s failed", receiver.__name__)

    return wrapper


# How long a (token, address) pair already seen is remembered without asking the database.
SEEN_SECONDS = 24 * 3600


# Logins are a person's own, not made as any group: their entries are read by that person and
# operators, never by the admins of a group they happen to be in.
PERSONAL = {"group_id": None, "group_name": ""}


@never_raises
def logged_in(sender, request, user, **kwargs):
    recording.write(request, user=user, action=choices.LOGIN, outcome=Outcome.OK, **PERSONAL)
    _mark(request)


@never_raises
def logged_out(sender, request, user, **kwargs):
    if user is not None:
        recording.write(request, user=user, action=choices.LOGOUT, outcome=Outcome.OK, **PERSONAL)
    _mark(request)


@never_raises
def login_failed(sender, credentials, request=None, **kwargs):
    """Who was tried (the account, when it exists, sees it in its own log), never with what:
    Django has already masked the password, and only the username is read."""
    username = str(credentials.get("username", "") or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    locked = request is not None and getattr(request, "axes_locked_out", False)
    recording.write(
        request,
        user=user,
        username=username,
        action=choices.LOGIN_FAILED,
        outcome=Outcome.REFUSED,
        **PERSONAL,
        detail="locked out after too many failures" if locked else "",
    )
    _mark(request)


@never_raises
def token_used(sender, token, request, **kwargs):
    """The first use of a token from each address is an entry; later ones cost a cache read
    (and, once the cache forgot, one indexed lookup)."""
    address = client_address(request)[:64]
    if cache.get(_seen_key(token.pk, address)):
        return
    if not TokenAddress.objects.filter(token=token, address=address).exists():
        try:
            with transaction.atomic():
                TokenAddress.objects.create(token=token, address=address)
        except IntegrityError:
            pass  # a request of the same token from the same address got there first
        else:
            # A group-limited token's is its group's admins' to see too; any other token acts
            # as its owner in all their groups, so its entry is the owner's own.
            group = token.group if token.group_id is not None else None
            recording.write(
                request,
                user=token.owner,
                token=token,
                group_id=token.group_id,
                group_name=group.name if group is not None else "",
                action=choices.TOKEN_NEW_ADDRESS,
                outcome=Outcome.OK,
                detail=f"API token {token.name} first used from {address or 'an unknown address'}",
            )
    cache.set(_seen_key(token.pk, address), True, SEEN_SECONDS)


def address_seen(sender, instance, created, raw=False, **kwargs):
    """A seen address is remembered in the cache as it is written, so the next request of the
    token from there asks nothing of the database."""
    cache.set(_seen_key(instance.token_id, instance.address), True, SEEN_SECONDS)


def _seen_key(token_id, address: str) -> str:
    return f"audit:token-address:{token_id}:{address}"


@never_raises
def created(sender, instance, created, raw=False, **kwargs):
    """The first object a request makes that belongs to someone is the object its entry names
    (a VM instantiated, a token issued); rows hanging off it (events, NICs, jobs) are not."""
    if not created or raw or acting.current() is None:
        return
    if hasattr(type(instance)._default_manager, "for_user") or isinstance(instance, Group):
        if not isinstance(instance, AuditEntry):
            acting.note_created(instance)


def _mark(request) -> None:
    # The login or logout form's own POST has its entry: the request's would say it twice.
    if request is not None:
        request.audit_recorded = True
