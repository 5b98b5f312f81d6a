from django.contrib import admin

from consoles.models import ConsoleSession


@admin.register(ConsoleSession)
class ConsoleSessionAdmin(admin.ModelAdmin):
    """The audit, read-only: rows are written by the console server alone."""

    list_display = (
        "started_at",
        "username",
        "target",
        "via",
        "client_address",
        "ended_at",
        "end_reason",
        "exit_status",
        "bytes_in",
        "bytes_out",
    )
    list_filter = ("end_reason", "via")
    search_fields = ("username", "target", "client_address")
    date_hierarchy = "started_at"
    list_select_related = ("owner",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
