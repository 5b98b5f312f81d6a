"""Group operations (`onegroup`, `oneuser addgroup/delgroup`): the only code that changes
groups and memberships. Anyone may create a group (they become its admin); its admins and the
operators manage its members; a group is deleted only when it holds nothing."""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from core import quotas
from core.groups import (
    ROLES_THAT_CHANGE,
    Group,
    Membership,
    Role,
    group_for_new,
    personal_group,
    role_in,
)
from core.lookup import find
from core.names import check_name
from core.tenancy import acting_role, check_change

# What a group may hold: it is deleted only when none of these has a row in it.
HELD = ("provisions.Provision", "vms.Image", "vms.VMTemplate", "vms.VM")


def visible_groups(user):
    """The groups the user is in (operators: all)."""
    if user.is_staff:
        return Group.objects.all()
    return Group.objects.filter(memberships__user=user)


def creatable_groups(user) -> list[Group]:
    """The groups the user may make objects in (admin or member), their primary first: the
    choices of a form's group field."""
    personal_group(user)
    rows = Membership.objects.filter(user=user, role__in=ROLES_THAT_CHANGE).select_related("group")
    return [m.group for m in sorted(rows, key=lambda m: (not m.primary, m.group.name))]


def find_group(user, ref) -> Group:
    return find(visible_groups(user).distinct(), str(ref).strip(), "group")


def _managed(user, group: Group) -> Group:
    """`group` if the user may manage it (its admin, or an operator, acting with a token's
    role if they came with one); 404 otherwise for someone outside it, 400 for a member who is
    not its admin."""
    role = acting_role(user, group.pk)
    if role is None:
        raise Http404(f"group {group.pk} not found")
    if role != Role.ADMIN:
        raise ValidationError(f"only an admin of group {group.name} may change its members")
    return group


def create_group(user, name, description: str = "") -> Group:
    name = check_name(name)
    taken = ValidationError({"name": f"a group named {name!r} exists; choose another name"})
    if Group.objects.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name, description=str(description or "")[:200])
            Membership.objects.create(group=group, user=user, role=Role.ADMIN)
    except IntegrityError:  # the same name made by another request in between
        raise taken from None
    return group


def delete_group(user, group: Group) -> None:
    _managed(user, group)
    held = [
        f"{count} {label.split('.')[1].lower()}(s)"
        for label in HELD
        if (count := apps.get_model(label).objects.filter(group=group).count())
    ]
    if held:
        raise ValidationError(
            f"group {group.name} still holds {', '.join(held)}: delete them or move them to "
            "another group (chgrp) first"
        )
    if group.memberships.filter(primary=True).exists():
        raise ValidationError(
            f"group {group.name} is the primary group of {', '.join(primary_of(group))}; "
            "they need another primary group first"
        )
    group.delete()


def primary_of(group: Group) -> list[str]:
    return list(group.memberships.filter(primary=True).values_list("user__username", flat=True))


def _named(username):
    return get_user_model().objects.filter(username=str(username).strip()).first()


def _user(username) -> object:
    found = _named(username)
    if found is None:
        raise ValidationError({"user": f"user {username!r} not found"})
    return found


def set_member(user, group: Group, username, role: str = Role.MEMBER) -> Membership:
    """Add `username` to the group with `role`, or change their role (addadmin: role admin;
    deladmin: back to member)."""
    _managed(user, group)
    if role not in Role.values:
        raise ValidationError({"role": f"role {role!r} is not one of {', '.join(Role.values)}"})
    member = _user(username)
    with transaction.atomic():
        membership, _ = Membership.objects.select_for_update().get_or_create(
            group=group, user=member, defaults={"role": role}
        )
        if membership.role == Role.ADMIN and role != Role.ADMIN:
            _keep_an_admin(group, membership)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def remove_member(user, group: Group, username) -> None:
    _managed(user, group)
    member = _user(username)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(group=group, user=member)
        membership = membership.first()
        if membership is None:
            raise ValidationError({"user": f"{member.username} is not in group {group.name}"})
        if membership.primary:
            raise ValidationError(
                f"group {group.name} is {member.username}'s primary group; give them another "
                "primary group first (oneuser chgrp)"
            )
        if membership.role == Role.ADMIN:
            _keep_an_admin(group, membership)
        membership.delete()


def _keep_an_admin(group: Group, leaving: Membership) -> None:
    others = group.memberships.filter(role=Role.ADMIN).exclude(pk=leaving.pk)
    if not others.exists():
        raise ValidationError(f"{leaving.user.username} is group {group.name}'s last admin")


def chosen_group(user, ref) -> Group | None:
    """The group a create request names (`--group`, ID or name), None for the user's primary
    group; one they cannot create in is refused (core.groups.group_for_new)."""
    if ref in (None, ""):
        return None
    try:
        return group_for_new(user, find_group(user, ref))
    except ValidationError as exc:
        raise ValidationError({"group": exc.messages}) from None


def change_group(user, obj, ref):
    """`chgrp`: move `obj` (a provision, image, template or VM) to another group. The user must
    be able to change it and to create in the new group."""
    check_change(user, obj)
    group = chosen_group(user, ref)
    if group is None:
        raise ValidationError({"group": "give the group to move it to (ID or name)"})
    _moved(obj, obj.owner, group, {"group": group}, f"moving {_label(obj)} there")
    obj.group = group
    return obj


def _label(obj) -> str:
    return f"{obj._meta.verbose_name} {obj.name}"


def _moved(obj, owner, group, fields: dict, what: str) -> None:
    """Update `obj` with `fields` (its new group or owner), refused when that takes the new
    owner or group past a quota: what it holds (a provision's hosts, a VM's CPUs) moves with
    it. Counted before and after, under the quota's locks."""
    with transaction.atomic():
        before = quotas.usage(owner, group)
        type(obj).objects.filter(pk=obj.pk).update(**fields)
        quotas.check_grown(owner, group, before, what=what)


def change_owner(user, obj, username):
    """`chown`: give `obj` to another user of its group. Only the group's admins and the
    operators may; the new owner must be able to change the group's objects (admin or
    member), so they can use what they now own."""
    check_change(user, obj)
    label = f"{obj._meta.verbose_name} {obj.name}"
    if acting_role(user, obj.group_id) != Role.ADMIN:
        raise PermissionDenied(
            f"only an admin of {label}'s group or an operator may give it to someone else"
        )
    new_owner = _user(username)
    if not new_owner.is_staff and role_in(new_owner, obj.group_id) not in ROLES_THAT_CHANGE:
        raise ValidationError(
            {
                "user": f"{new_owner.username} is not an admin or member of group "
                f"{obj.group.name if obj.group_id else '-'}: add them first, or chgrp {label}"
            }
        )
    _moved(obj, new_owner, None, {"owner": new_owner}, f"giving {label} to them")
    obj.owner = new_owner
    return obj


def visible_user(user, username):
    """A user `user` may look up: themselves, anyone sharing a group with them, anyone for an
    operator. Others are not found (usernames leak nothing)."""
    found = _named(username)
    shares = (
        found is not None
        and Membership.objects.filter(
            user=found, group__in=Group.objects.filter(memberships__user=user)
        ).exists()
    )
    if found is None or not (user.is_staff or found == user or shares):
        raise Http404(f"user {str(username)[:40]!r} not found")
    return found


def set_primary(user, username, ref) -> Membership:
    """`oneuser chgrp USER GROUP`: the group the user's new objects go in by default. A user
    changes their own (to a group they are in); operators anyone's."""
    target = visible_user(user, username)
    if target != user and not user.is_staff:
        raise PermissionDenied("only an operator may change another user's primary group")
    ref = str(ref).strip()
    group = find_group(target, ref) if not user.is_staff else find(Group.objects, ref, "group")
    with transaction.atomic():
        chosen = Membership.objects.select_for_update().filter(user=target, group=group).first()
        if chosen is None:
            raise ValidationError(
                {"group": f"{target.username} is not in group {group.name}: add them first"}
            )
        Membership.objects.filter(user=target, primary=True).update(primary=False)
        Membership.objects.filter(pk=chosen.pk).update(primary=True)
    chosen.primary = True
    return chosen
