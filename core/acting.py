"""What the request being served touched, for whoever records it (the audit log), told by the
checks every change goes through without them importing the recorder.

core.tenancy.check_change notes the object a change is about, core.groups.group_for_new the
group a new object goes into, core.pages.acted a refusal shown as a message. The recorder opens
a fresh note per request (`begin` / `end`); outside one (jobs, the shell) every note is a no-op.
Each note keeps plain values taken when noted, so an object deleted later is still named.
"""

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """An object a request acted on: its model (`app_label.model_name`), ID, name and group.
    `name` and `group_id` stay empty for an object the user may not even see."""

    type: str
    id: str
    name: str = ""
    group_id: int | None = None
    group_name: str = ""


@dataclass
class Notes:
    targets: list[Target] = field(default_factory=list)
    created: Target | None = None  # the first tenant object the request made
    new_group: tuple[int, str] | None = None  # (id, name) where a new object goes
    refusals: list[str] = field(default_factory=list)


_notes: ContextVar[Notes | None] = ContextVar("acting_notes", default=None)


def begin():
    """Start noting for a request; returns what `end` needs to put the previous state back."""
    return _notes.set(Notes())


def end(token) -> None:
    _notes.reset(token)


def current() -> Notes | None:
    return _notes.get()


def target_of(obj, visible: bool = True) -> Target:
    group = None
    if visible and getattr(obj, "group_id", None) is not None:
        # Only a group already loaded with the object: noting must cost no query.
        cached = obj._state.fields_cache.get("group")
        group = (obj.group_id, cached.name if cached is not None else "")
    return Target(
        type=obj._meta.label_lower,
        id=str(obj.pk),
        name=str(getattr(obj, "name", "") or "")[:200] if visible else "",
        group_id=group[0] if group else None,
        group_name=group[1] if group else "",
    )


def note_target(obj, visible: bool = True) -> None:
    """`obj` is what the request changes (or was refused); `visible=False` for an object the
    user may not see: only its type and ID are kept, nothing that would tell them about it."""
    notes = _notes.get()
    if notes is not None and obj is not None and obj.pk is not None:
        notes.targets.append(target_of(obj, visible))


def note_created(obj) -> None:
    notes = _notes.get()
    if notes is not None and notes.created is None and obj.pk is not None:
        notes.created = target_of(obj)


def note_group(group) -> None:
    """`group` is the group the request acts in: where its new object goes."""
    notes = _notes.get()
    if notes is not None and group is not None and notes.new_group is None:
        notes.new_group = (group.pk, group.name)


def note_refused(reason: str) -> None:
    """The change was refused with `reason` although the answer may still be a redirect."""
    notes = _notes.get()
    if notes is not None:
        notes.refusals.append(str(reason))
