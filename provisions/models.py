from django.conf import settings
from django.db import models

from portal.tenancy import OwnedQuerySet


class ProvisionQuerySet(OwnedQuerySet):
    shared_visible = False


class Provision(models.Model):
    """One edge cluster on one provider (filled out by the provisions work)."""

    name = models.CharField(max_length=64)
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="provisions"
    )
    state = models.CharField(max_length=16, default="PENDING")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provisions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProvisionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name
