"""Writing audit entries: what a request changed, read from its URL, from what the checks it
went through noted (core.acting) and from its answer; who made it, as which group, from where.

Nothing of a request's body is kept but a VM action's name: bodies carry passwords, tokens and
secret keys. Writing an entry never breaks what it records: a failure is logged.
"""

import logging
import re

from django.db import transaction

from audit import choices
from audit.choices import Channel, Outcome
from audit.models import AuditEntry
from core.acting import Notes, Target
from core.client_address import client_address
from core.groups import Group, Membership
from core.models import ApiToken

log = logging.getLogger(__name__)

# Tokens that might reach a message we keep (an error echoing what was sent): the portal's and
# DigitalOcean's.
SECRET_LOOKING = re.compile(r"\b(?:ep_|dop_v1_)[A-Za-z0-9_\-]{6,}")
ACTION_NAME = re.compile(r"[a-z][a-z0-9_-]{0,40}")

VIEWSET_ACTIONS = {
    "create": choices.CREATE,
    "update": choices.UPDATE,
    "partial_update": choices.UPDATE,
    "destroy": choices.DELETE,
}
# Words of a URL's name that say what a page or an API view does.
DELETE_WORDS = {"delete", "remove", "revoke", "destroy"}
CREATE_WORDS = {"create", "new", "add", "import"}
UPDATE_WORDS = {"edit", "set", "update", "chgrp"}
ADMIN_OPERATIONS = {"add": choices.CREATE, "change": choices.UPDATE, "delete": choices.DELETE}


def clean(text, limit: int) -> str:
    return SECRET_LOOKING.sub("[redacted]", str(text or ""))[:limit]


def channel_of(path: str) -> str:
    if path.startswith("/api/"):
        return Channel.API
    if path.startswith("/admin/"):
        return Channel.ADMIN
    return Channel.PAGE


def outcome_of(status: int | None, refused: bool) -> str:
    if status is not None and status >= 500:
        return Outcome.FAILED
    if refused or (status is not None and status >= 400):
        return Outcome.REFUSED
    return Outcome.OK


def token_of(request) -> ApiToken | None:
    token = getattr(request, "auth", None)  # DRF puts the token on the Django request too
    return token if isinstance(token, ApiToken) else None


def fallback_group(user, token: ApiToken | None) -> tuple[int | None, str]:
    """The group a change names none of is made as: its token's, else the user's primary."""
    if token is not None and token.group_id is not None:
        return token.group_id, token.group.name
    if user is None or not user.is_authenticated:
        return None, ""
    primary = Membership.objects.filter(user=user, primary=True).select_related("group").first()
    return (primary.group_id, primary.group.name) if primary else (None, "")


def write(request, *, user, action: str, outcome: str, token=None, **fields) -> None:
    """One entry, written in its own savepoint so a failure leaves the request's work alone."""
    try:
        username = fields.pop("username", "") or getattr(user, "username", "")
        entry = AuditEntry(
            user=user if user is not None and user.pk is not None else None,
            username=username,
            token=token,
            token_name=token.name if token else "",
            token_prefix=token.prefix if token else "",
            channel=channel_of(request.path) if request is not None else Channel.PAGE,
            address=client_address(request)[:64] if request is not None else "",
            method=request.method[:8] if request is not None and request.method else "",
            path=request.path[:400] if request is not None else "",
            action=action[:64],
            outcome=outcome,
            **fields,
        )
        if "group_id" not in fields:
            entry.group_id, entry.group_name = fallback_group(user, token)
        entry.detail = clean(entry.detail, 300)
        with transaction.atomic():
            entry.save()
    except Exception:
        log.exception("audit entry not written: %s %s", action, getattr(request, "path", ""))


def record_request(request, response, notes: Notes | None) -> None:
    """The entry for a page, API or admin request that may have changed something."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "audit_recorded", False):
        return  # anonymous (a refused API token, a login form): logins have their own entries
    notes = notes or Notes()
    match = getattr(request, "resolver_match", None)
    status = getattr(response, "status_code", None)
    action, from_url = what_was_done(request, response, match)
    target = pick_target(action, notes, from_url, response)
    group_id, group_name = group_of(notes, target)
    fields = {}
    if group_id is not None:
        fields = {"group_id": group_id, "group_name": group_name}
    write(
        request,
        user=user,
        token=token_of(request),
        action=action,
        outcome=outcome_of(status, bool(notes.refusals)),
        status=status,
        object_type=target.type[:64] if target else "",
        object_id=target.id[:64] if target else "",
        object_name=target.name[:200] if target else "",
        detail=detail_of(notes, response, status),
        **fields,
    )


def what_was_done(request, response, match) -> tuple[str, Target | None]:
    """The action, and the object the URL names (a guess the noted target overrides)."""
    if match is None:
        return f"action:{request.method.lower()}", None
    kwargs = match.kwargs
    pk = kwargs.get("pk", kwargs.get("object_id"))
    context = getattr(response, "renderer_context", None) or {}
    view = context.get("view")
    if view is not None and getattr(view, "action", None):
        return viewset_action(view, context.get("request")), _url_target(_kind_of(view), pk)
    words = set(re.split(r"[-_]", match.url_name or ""))
    if match.app_name == "admin":
        app, _, rest = (match.url_name or "").partition("_")
        model, _, operation = rest.rpartition("_")
        if operation == "changelist":
            chosen = request.POST.get("action", "") if request.method == "POST" else ""
            named = ACTION_NAME.fullmatch(chosen)
            return (f"action:{chosen}" if named else "action:changelist"), None
        done = ADMIN_OPERATIONS.get(operation, f"action:{operation or match.url_name}")
        return done, _url_target(f"{app}.{model}", pk)
    if "action" in kwargs and ACTION_NAME.fullmatch(str(kwargs["action"])):
        done = f"action:{kwargs['action']}"
    elif words & DELETE_WORDS or request.method == "DELETE":
        done = choices.DELETE
    elif words & CREATE_WORDS:
        done = choices.CREATE
    elif words & UPDATE_WORDS or request.method in ("PUT", "PATCH"):
        done = choices.UPDATE
    elif request.method == "POST" and (match.url_name or "").endswith("s"):
        done = choices.CREATE  # a POST to a collection (`vm-snapshots`)
    else:
        done = f"action:{match.url_name or request.method.lower()}"
    kind = match.namespace.split(":")[-1] if match.namespace else ""
    if kind == "api":
        kind = (match.url_name or "").split("-")[0]
    return done, _url_target(kind.removesuffix("s"), pk)


def viewset_action(view, drf_request) -> str:
    name = view.action
    if name in VIEWSET_ACTIONS:
        return VIEWSET_ACTIONS[name]
    method = getattr(view, name, None)
    path = getattr(method, "url_path", name)
    if path == "action":
        # A VM action: its name is in the body, the only thing of a body kept (and only when it
        # reads as an action's name).
        try:
            data = drf_request.data if drf_request is not None else None
        except Exception:
            data = None
        chosen = data.get("action") if isinstance(data, dict) else None
        if isinstance(chosen, str) and ACTION_NAME.fullmatch(chosen):
            return f"action:{chosen}"
    return f"action:{path}"


def _kind_of(view) -> str:
    """A viewset's model as a noted target names it (`vms.vm`), else its route's basename."""
    model = getattr(getattr(view, "queryset", None), "model", None)
    if model is None:
        serializer = getattr(view, "serializer_class", None)
        model = getattr(getattr(serializer, "Meta", None), "model", None)
    return model._meta.label_lower if model is not None else view.basename


def _url_target(kind: str, pk) -> Target | None:
    if not kind or pk is None:
        return None
    return Target(type=kind, id=str(pk))


def pick_target(action: str, notes: Notes, from_url: Target | None, response) -> Target | None:
    """What was changed: a new object for a create; else the first object a check was asked
    about; else what the URL names, with the name the answer gave where it gave one."""
    if action == choices.CREATE and notes.created is not None:
        return notes.created
    if notes.targets:
        return notes.targets[0]
    if notes.created is not None:
        return notes.created
    data = getattr(response, "data", None)
    if from_url is not None and isinstance(data, dict) and str(data.get("id")) == from_url.id:
        return Target(type=from_url.type, id=from_url.id, name=clean(data.get("name"), 200))
    return from_url


def group_of(notes: Notes, target: Target | None) -> tuple[int | None, str]:
    if notes.new_group is not None:
        return notes.new_group
    for candidate in (target, notes.created):
        if candidate is not None and candidate.group_id is not None:
            name = candidate.group_name or (
                Group.objects.filter(pk=candidate.group_id).values_list("name", flat=True).first()
                or ""
            )
            return candidate.group_id, name
    return None, ""


def detail_of(notes: Notes, response, status) -> str:
    if notes.refusals:
        return notes.refusals[0]
    data = getattr(response, "data", None)
    if status is not None and status >= 400 and isinstance(data, dict):
        return str(data.get("detail", ""))
    return ""
