from django.conf import settings
from django.db import models
from django.urls import reverse

from core import crypto
from core.tenancy import OwnedQuerySet
from providers.choices import DIGITALOCEAN_REGIONS, ProviderType


class ProviderQuerySet(OwnedQuerySet):
    pass


class Provider(models.Model):
    """DigitalOcean credentials and a region: where edge clusters get deployed.

    `owner` NULL marks a shared provider (the predefined ones): every user may use it, only
    operators may change it.
    """

    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    provider_type = models.CharField(
        max_length=32, choices=ProviderType.choices, default=ProviderType.DIGITALOCEAN
    )
    plain = models.JSONField(default=dict, blank=True)
    region = models.CharField(max_length=16, choices=sorted(DIGITALOCEAN_REGIONS.items()))
    # Fernet ciphertext; the plaintext exists only in memory while the driver uses it.
    token_encrypted = models.TextField(blank=True, editable=False)
    token_hint = models.CharField(max_length=8, blank=True, editable=False)
    inputs = models.JSONField(default=list, blank=True)
    predefined = models.BooleanField(default=False, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="providers",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="provider_name_unique_per_owner"
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(owner__isnull=True),
                name="shared_provider_name_unique",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("providers:detail", args=[self.pk])

    @property
    def has_token(self) -> bool:
        return bool(self.token_encrypted)

    def set_token(self, token: str | None) -> None:
        if not token:
            self.token_encrypted = ""
            self.token_hint = ""
            return
        self.token_encrypted = crypto.encrypt(token)
        self.token_hint = crypto.mask(token)

    def get_token(self) -> str:
        return crypto.decrypt(self.token_encrypted) if self.token_encrypted else ""

    @property
    def connection(self) -> dict:
        """The document's `connection` block, token masked."""
        return {"token": self.token_hint, "region": self.region}

    @property
    def region_name(self) -> str:
        return DIGITALOCEAN_REGIONS.get(self.region, self.region)

    def input_options(self, name: str) -> list:
        for item in self.inputs:
            if item.get("name") == name:
                return list(item.get("options") or [])
        return []

    def input_default(self, name: str):
        for item in self.inputs:
            if item.get("name") == name:
                return item.get("default", (item.get("options") or [None])[0])
        return None
