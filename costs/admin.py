from django.contrib import admin

from core.admin import ReadOnlyAdmin
from costs.models import BalanceCheck


@admin.register(BalanceCheck)
class BalanceCheckAdmin(ReadOnlyAdmin):
    """Each token's month-to-date at DigitalOcean against the portal's figure (the latest)."""

    list_display = [
        "providers",
        "checked_at",
        "portal_usd",
        "digitalocean_usd",
        "difference",
        "generated_at",
        "error",
    ]
    exclude = ["token_fingerprint"]
