"""Who may see and change what: the one place every page, endpoint and CLI path asks.

Objects belong to an owner, and those with a `group` (provisions, images, templates, VMs) to a
group too (core.groups). Operators (staff) see and change everything; a self-service user sees
their own objects, their groups' objects (to change them, a role that changes: admin or
member; a viewer only reads) and shared ones (owner NULL, e.g. the predefined providers), and
changes their own. Anything else does not exist for them (404, never 403, so IDs leak nothing).
"""

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

from core.groups import ROLES_THAT_CHANGE, ROLES_THAT_VIEW, Membership

VIEW = "view"
CHANGE = "change"


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
        return
    if manager.for_user(user, VIEW).filter(pk=obj.pk).exists():
        raise PermissionDenied(refusal(user, obj))
    raise Http404(f"{type(obj)._meta.verbose_name} not found")


def for_change(queryset, user, pk):
    """The object `pk` of `queryset` (a model's manager or queryset with for_user) for `user`
    to change: 404 when they cannot see it, 403 saying why when they only see it."""
    obj = get_object_or_404(queryset.for_user(user, VIEW), pk=pk)
    check_change(user, obj)
    return obj
