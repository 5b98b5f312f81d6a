from django.contrib import admin

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are written by the recorder alone and go only with the retention."""

    list_display = (
        "at",
        "username",
        "channel",
        "group_name",
        "address",
        "action",
        "object_type",
        "object_id",
        "object_name",
        "status",
        "outcome",
    )
    list_filter = ("outcome", "channel", "action", "object_type")
    search_fields = ("username", "group_name", "address", "object_name", "path", "token_prefix")
    date_hierarchy = "at"
    show_full_result_count = False  # a long log: no second COUNT(*) per page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
