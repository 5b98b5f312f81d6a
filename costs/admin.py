from django.contrib import admin

from core.admin import ReadOnlyAdmin
from costs.models import BalanceCheck, Budget


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


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    """A group's monthly budget; its admins set it from the group's page, the API or the CLI."""

    list_display = ["group", "amount", "warn_percent", "hard_stop", "warned_level", "updated_at"]
    list_select_related = ["group"]
    search_fields = ["group__name"]
    readonly_fields = ["warned_month", "warned_level", "updated_at"]
