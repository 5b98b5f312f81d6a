"""The audit log: one row per change made by a person or a token (pages, API, CLI, admin), per
login, logout and failed login, and per token first used from a new address. Names are kept as
text beside the foreign keys, so an entry still reads right once its user, token, group or
object is gone."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.choices import Channel, Outcome
from core.groups import Membership, Role
from core.tenancy import acting_role, scope_of


class AuditEntryQuerySet(models.QuerySet):
    def for_user(self, user):
        """What `user` may read: operators everything; everyone their own entries; a group's
        admins the entries made as that group. With a group-limited token: within its group,
        all of it only when the token acts as an admin there."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        scope = scope_of(user)
        if scope is not None:
            in_group = self.filter(group_id=scope.group_id)
            if acting_role(user, scope.group_id) == Role.ADMIN:
                return in_group
            return in_group.filter(user=user)
        if user.is_staff:
            return self
        administered = Membership.objects.filter(user=user, role=Role.ADMIN).values("group_id")
        return self.filter(models.Q(user=user) | models.Q(group_id__in=administered))


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the (user, at) index below serves it
    )
    username = models.CharField(max_length=150, blank=True)
    token = models.ForeignKey(
        "core.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_name = models.CharField(max_length=100, blank=True)
    token_prefix = models.CharField(max_length=12, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The group the change was made as: the object's, where a new one went, else the token's
    # or the user's primary group.
    group = models.ForeignKey(
        "core.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the (group, at) index below serves it
    )
    group_name = models.CharField(max_length=64, blank=True)
    address = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=400, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["user", "-at"], name="audit_user_at"),
            models.Index(fields=["group", "-at"], name="audit_group_at"),
            models.Index(fields=["action", "-at"], name="audit_action_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"


class TokenAddress(models.Model):
    """An address an API token was used from: its first use from each is an audit entry."""

    token = models.ForeignKey("core.ApiToken", on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "address"], name="token_address_once")
        ]

    def __str__(self):
        return f"{self.token_id} from {self.address}"
