"""Groups (OpenNebula's `onegroup`): people who share clusters, images, templates and VMs.

A user may be in several groups, with one role in each: `admin` (manages the group's members,
quotas and every object in it), `member` (creates and uses the group's objects) or `viewer`
(reads only). One membership per user is their primary group, where their new objects go
unless they pick another. Objects belong to a user AND a group (their `group` field);
core.tenancy reads the memberships to decide who sees and changes what.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction

from core import acting


class Role(models.TextChoices):
    ADMIN = "admin", "admin"
    MEMBER = "member", "member"
    VIEWER = "viewer", "viewer"


# What each role may do to the group's objects: view, or change (core.tenancy's actions).
ROLES_THAT_VIEW = (Role.ADMIN, Role.MEMBER, Role.VIEWER)
ROLES_THAT_CHANGE = (Role.ADMIN, Role.MEMBER)


class Group(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        db_table = "core_group"

    def __str__(self):
        return self.name


class Membership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    primary = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_once"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(primary=True), name="one_primary_group"
            ),
        ]

    def __str__(self):
        return f"{self.user} in {self.group} ({self.role})"


def personal_group(user) -> Group:
    """The user's primary group, made (named after them, they its admin) if they have none.
    Made under a lock on the user's row: requests of one new user racing here (a script
    creating several clusters at once) make one group, not one each."""
    found = _primary_of(user)
    if found is not None:
        return found
    with transaction.atomic():
        list(
            get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).values("pk")
        )
        found = _primary_of(user)  # made by a request that held the lock before this one
        if found is not None:
            return found
        name, n = user.username[:64], 1
        while Group.objects.filter(name=name).exists():
            n += 1
            name = f"{user.username[:58]}-{n}"
        group = Group.objects.create(name=name, description=f"{user.username}'s own group")
        Membership.objects.create(group=group, user=user, role=Role.ADMIN, primary=True)
    return group


def role_in(user, group_id) -> str | None:
    """The user's own role in the group; None if they are not in it."""
    roles = Membership.objects.filter(user=user, group_id=group_id).values_list("role", flat=True)
    return roles.first()


def _primary_of(user) -> Group | None:
    found = Membership.objects.filter(user=user, primary=True).select_related("group").first()
    return found.group if found is not None else None


def group_for_new(user, group: "Group | None" = None) -> Group:
    """The group a user's new object goes in: `group` if given (they must be able to create in
    it: admin or member; ValidationError otherwise), else their primary group."""
    scope = getattr(user, "token_scope", None)  # an API token limited to a group
    if scope is not None:
        if group is not None and group.pk != scope.group_id:
            raise ValidationError({"group": "this API token is limited to another group"})
        if scope.role not in ROLES_THAT_CHANGE:
            raise ValidationError({"group": "this API token has a viewer's role: it reads only"})
        group = Group.objects.get(pk=scope.group_id)
    if group is None:
        group = personal_group(user)
    elif not user.is_staff and role_in(user, group.pk) not in ROLES_THAT_CHANGE:
        raise ValidationError(
            {"group": f"you are not an admin or member of group {group.name!r}: they create in it"}
        )
    acting.note_group(group)  # the group the request acts as, for the audit log
    return group
