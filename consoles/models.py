"""The audit of console sessions: who opened a terminal on what, from where, for how long, and
how many bytes went each way. Never what was typed or shown."""

from django.conf import settings
from django.db import models

from consoles.choices import END_COLOURS, EndReason, Via
from core.tenancy import OwnedQuerySet


class ConsoleSessionQuerySet(OwnedQuerySet):
    shared_visible = False

    def open(self):
        return self.filter(ended_at__isnull=True)


class ConsoleSession(models.Model):
    # SET_NULL and a copied username: the audit outlives the user, the VM and the host.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="console_sessions",
    )
    username = models.CharField(max_length=150)
    vm = models.ForeignKey(
        "vms.VM",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="console_sessions",
    )
    host = models.ForeignKey(
        "provisions.Host",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="console_sessions",
    )
    # "VM alpine_test (one-5) on host-1" or "host host-1 of dc": readable once both are gone.
    target = models.CharField(max_length=200)
    via = models.CharField(max_length=8, choices=Via.choices)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    # Marked by the serving process every CONSOLE_BEAT_SECONDS: how the session limit tells a
    # session alive from one whose process died without ending it.
    seen_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    exit_status = models.IntegerField(null=True, blank=True)
    # Keystrokes to the terminal / output from it: counts only.
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    objects = ConsoleSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "ended_at"])]

    def __str__(self):
        return f"{self.username} on {self.target} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def end_colour(self) -> str:
        return END_COLOURS.get(self.end_reason, "green")

    @property
    def duration(self):
        if self.ended_at is None:
            return None
        return self.ended_at - self.started_at
