"""Who may see and change what: the one place every page, endpoint and CLI path asks.

Objects belong to an owner, and those with a `group` (provisions, images, templates, VMs) to a
group too (core.groups). Operators (staff) see and change everything; a self-service user sees
their own objects, their groups' objects (to change them, a role that changes: admin or
member; a viewer only reads) and shared ones (owner NULL, e.g. the predefined providers), and
changes their own. Anything else does not exist for them (404, never 403, so IDs leak nothing).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

from core import acting
from core.groups import ROLES_THAT_CHANGE, ROLES_THAT_VIEW, Membership, Role, role_in

VIEW = "view"
CHANGE = "change"

# Roles from most to least: a token's role is at or below its owner's.
RANK = {Role.ADMIN: 3, Role.MEMBER: 2, Role.VIEWER: 1}


@dataclass(frozen=True)
class Scope:
    """What an API token limited to a group may reach: that group's objects, with `role`.
    ApiTokenAuthentication puts it on the request's user as `token_scope`."""

    group_id: int
    role: str

    @property
    def changes(self) -> bool:
        return self.role in ROLES_THAT_CHANGE


def scope_of(user) -> Scope | None:
    return getattr(user, "token_scope", None)


def acting_role(user, group_id) -> str | None:
    """The role `user` acts with in a group: theirs, lowered to their token's when the request
    came with a group-limited token (None outside the group or the token's group)."""
    mine = Role.ADMIN if user.is_staff else role_in(user, group_id)  # operators: everywhere
    scope = scope_of(user)
    if mine is None or scope is None:
        return mine
    if scope.group_id != group_id:
        return None
    return min((mine, scope.role), key=RANK.get)


def check_scope(user, group, role: str) -> None:
    """A token for `user` limited to `group` with `role`: refused (ValidationError) when the
    role is above theirs in that group (operators may give any role)."""
    if role not in RANK:
        raise ValidationError({"role": f"role {role!r} is not one of {', '.join(RANK)}"})
    if user.is_staff:
        return
    mine = role_in(user, group.pk)
    if mine is None:
        raise ValidationError({"group": f"you are not in group {group.name}"})
    if RANK[role] > RANK[mine]:
        raise ValidationError(
            {"role": f"you are a {mine} in group {group.name}: a token can be at most that"}
        )


def group_ids(user, action: str = VIEW):
    """The groups whose objects `user` may view (or change), as a subquery."""
    roles = ROLES_THAT_VIEW if action == VIEW else ROLES_THAT_CHANGE
    return Membership.objects.filter(user=user, role__in=roles).values("group_id")


class OwnedQuerySet(models.QuerySet):
    shared_visible = True
    grouped = False  # the model has a `group` field

    def for_user(self, user, action: str = VIEW):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        allowed = self._by_owner_and_groups(user, action)
        scope = scope_of(user)
        if scope is None:
            return allowed
        # A group-limited token: the group's objects (within what its owner may), nothing to
        # change with a viewer's role. Objects without a group (providers, stores, tokens)
        # follow the owner's rule, read-only for a viewer's token.
        if action == CHANGE and not scope.changes:
            return self.none()
        return allowed.filter(group_id=scope.group_id) if self.grouped else allowed

    def _by_owner_and_groups(self, user, action: str):
        if user.is_staff:
            return self
        owned = models.Q(owner=user)
        if self.grouped:
            owned |= models.Q(group_id__in=group_ids(user, action))
        if action == VIEW and self.shared_visible:
            owned |= models.Q(owner__isnull=True)
        return self.filter(owned)


def may_change(user, obj) -> bool:
    return type(obj)._default_manager.for_user(user, CHANGE).filter(pk=obj.pk).exists()


def refusal(user, obj) -> str:
    """Why `user`, who sees `obj`, may not change it: their role in its group, or that it is
    shared (only operators change those)."""
    label = f"{type(obj)._meta.verbose_name} {getattr(obj, 'name', obj.pk)!r}"
    scope = scope_of(user)
    if scope is not None and not scope.changes:
        return f"this API token has a viewer's role: it reads {label} only"
    group_id = getattr(obj, "group_id", None)
    if group_id is not None:
        membership = (
            Membership.objects.filter(user=user, group_id=group_id).select_related("group").first()
        )
        if membership is not None:
            return (
                f"{label} is in group {membership.group.name}, where you are a "
                f"{membership.role}: a {membership.role} only reads; its admins can make you "
                "a member"
            )
    if getattr(obj, "owner_id", 0) is None:
        return f"{label} is shared; only an operator can change it"
    return f"you may not change {label}"


def check_change(user, obj) -> None:
    """Nothing if `user` may change `obj`; PermissionDenied saying why if they only see it (a
    viewer of its group); Http404 if they do not even see it (as if it did not exist)."""
    manager = type(obj)._default_manager
    if may_change(user, obj):
        acting.note_target(obj)
        return
    if manager.for_user(user, VIEW).filter(pk=obj.pk).exists():
        acting.note_target(obj)
        reason = refusal(user, obj)
        acting.note_refused(reason)
        raise PermissionDenied(reason)
    # Kept as a bare type and ID: the record must tell the user nothing about the object.
    acting.note_target(obj, visible=False)
    acting.note_refused("not found")
    raise Http404(f"{type(obj)._meta.verbose_name} not found")


def for_change(queryset, user, pk):
    """The object `pk` of `queryset` (a model's manager or queryset with for_user) for `user`
    to change: 404 when they cannot see it, 403 saying why when they only see it."""
    obj = get_object_or_404(queryset.for_user(user, VIEW), pk=pk)
    check_change(user, obj)
    return obj
