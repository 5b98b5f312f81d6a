from django.db import models
from django.urls import reverse

from marketplace.choices import AppState, MarketplaceKind


class Marketplace(models.Model):
    """A source of apps (images). Marketplaces are shared: every user browses them."""

    name = models.CharField(max_length=128, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=MarketplaceKind.choices)
    index_url = models.URLField(max_length=500, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name


class MarketplaceApp(models.Model):
    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=128)
    version = models.CharField(max_length=32)
    description = models.TextField(blank=True)
    os_id = models.CharField(max_length=32)
    os_version = models.CharField(max_length=32)
    arch = models.CharField(max_length=16, default="amd64")
    image_url = models.URLField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    # Defaults for the VM template made on export (cpu, memory_mb).
    template = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=AppState.choices, default=AppState.UNSYNCED)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "name"], name="app_name_unique")
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("marketplace:detail", args=[self.pk])
