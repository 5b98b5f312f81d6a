"""API tokens: a user creates and revokes their own; only a hash is stored."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.choices import EventSource
from core.groups import Role
from core.tenancy import OwnedQuerySet, Scope

TOKEN_PREFIX = "ep_"  # noqa: S105 (a marker, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(OwnedQuerySet):
    shared_visible = False

    def active(self):
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters identify the token in lists without revealing it.
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A token limited to one group acts only on that group's objects, with `role` (at or below
    # its owner's role there); core.tenancy reads the scope (token_scope) on each request.
    group = models.ForeignKey(
        "core.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    role = models.CharField(max_length=8, choices=Role.choices, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, owner, name: str, expires_at=None, group=None, role: str = ""
    ) -> tuple["ApiToken", str]:
        """Create a token; the raw value is returned once and never stored. `group` and
        `role` limit it (checked by core.tenancy.check_scope before)."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            owner=owner,
            name=name,
            prefix=raw[:10],
            digest=hash_token(raw),
            expires_at=expires_at,
            group=group,
            role=role if group is not None else "",
        )
        return token, raw

    @property
    def scope(self):
        return Scope(self.group_id, self.role) if self.group_id else None

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class UserProfile(models.Model):
    """What a user brings to every VM: the SSH public key templates put in `root`'s
    authorized_keys (OpenNebula's `SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]"`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    ssh_public_key = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"profile of {self.user}"


class MetricCounter(models.Model):
    """One Prometheus counter series (a name and its labels), summed over every process on
    every machine: web processes and workers add to it (core.metrics), /metrics reads it."""

    # The name and its labels as one canonical string, so an increment is one UPDATE by key.
    series = models.CharField(max_length=400, unique=True)
    name = models.CharField(max_length=100)
    labels = models.JSONField(default=dict)
    value = models.FloatField(default=0)

    class Meta:
        ordering = ["name", "series"]

    def __str__(self):
        return f"{self.series} {self.value:g}"


class Event(models.Model):
    """Append-only record of one state change of a provision, host or VM: when, who (a user,
    with the source saying whether a person, a job or monitoring moved it), from, to, why.
    Written by core.transitions.transition with the change itself; each concrete event adds
    the foreign key to its object, with `related_name="events"`."""

    at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    reason = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["id"]


# Groups live in their own module; imported here so Django registers them.
from core.groups import Group, Membership  # noqa: E402,F401
from core.quotas import Quota  # noqa: E402,F401
