from django.contrib import admin

from core.admin import ReadOnlyAdmin
from webhooks.models import Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Webhooks are made through the portal, which makes their secret and shows it once to
    the group's admin; here an operator sees them (never the secret), turns one off or deletes
    it."""

    list_display = ["id", "group", "url", "events", "active", "created_by", "created_at"]
    list_filter = ["active"]
    list_select_related = ["group", "created_by"]
    search_fields = ["group__name", "url"]
    readonly_fields = ["group", "url", "events", "secret_hint", "created_by", "created_at"]
    exclude = ["secret_encrypted"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "webhook",
        "event",
        "key",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["state", "event"]
    list_select_related = ["webhook__group"]
    search_fields = ["key", "webhook__url", "webhook__group__name"]
