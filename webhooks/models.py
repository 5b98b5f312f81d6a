"""A group's webhooks and each event's delivery to one of them (the delivery log)."""

import uuid

from django.conf import settings
from django.db import models

from core import crypto
from core.groups import Membership, Role
from core.tenancy import VIEW, scope_of
from webhooks.choices import DeliveryState


class WebhookQuerySet(models.QuerySet):
    def for_user(self, user, action: str = VIEW):
        """A group's webhooks are its admins' (and the operators'), to see as to change: the
        URLs and the delivery log tell where the group's events go, which its members and
        viewers have no need of. Anyone else gets 404, as for another tenant's object."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        found = self
        if not user.is_staff:
            admin_of = Membership.objects.filter(user=user, role=Role.ADMIN).values("group_id")
            found = found.filter(group_id__in=admin_of)
        scope = scope_of(user)
        if scope is not None:
            # A group-limited token acts with its own role, and only in its group.
            if scope.role != Role.ADMIN:
                return self.none()
            found = found.filter(group_id=scope.group_id)
        return found


class Webhook(models.Model):
    group = models.ForeignKey("core.Group", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    # WebhookEvent values: what this receiver is told of.
    events = models.JSONField(default=list)
    # Made by the portal, shown once (at creation and at each rotation); the hint is what
    # pages show afterwards.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=16, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["group__name", "pk"]

    def __str__(self):
        return f"webhook {self.pk} of {self.group} -> {self.url}"

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)


class Delivery(models.Model):
    """One event for one webhook, tried until delivered or given up. `key` is the event's: the
    same on every try (and for every webhook told of the event), so a receiver that saw it
    already can tell."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField()
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # When the next try is due (a try in progress pushes it ahead: its claim). None once done.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    # What failed on our side (core.outbound's words), never what the receiver answered.
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "key"], name="delivery_once_per_event")
        ]

    def __str__(self):
        return f"{self.event} {self.key} -> webhook {self.webhook_id} ({self.state})"
