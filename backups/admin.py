from django.contrib import admin

from backups.models import BackupStore, PendingRestore, VMBackup
from core.admin import ReadOnlyAdmin


@admin.register(BackupStore)
class BackupStoreAdmin(admin.ModelAdmin):
    """Stores are set up through the portal (checked with their key first); here an operator
    sees them and may delete an empty one."""

    list_display = ["id", "name", "owner", "provider", "endpoint", "bucket", "checked_at"]
    list_select_related = ["owner", "provider"]
    search_fields = ["name", "owner__username", "bucket"]
    readonly_fields = [
        "owner",
        "name",
        "provider",
        "endpoint",
        "region",
        "bucket",
        "access_key",
        "secret_hint",
        "checked_at",
        "created_at",
    ]
    exclude = ["secret_encrypted", "password_encrypted"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VMBackup)
class VMBackupAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "vm",
        "state",
        "snapshot_id",
        "store",
        "uploaded_bytes",
        "freeze_ms",
        "duration_s",
        "created_at",
    ]
    list_filter = ["state", "scheduled"]
    list_select_related = ["vm", "store"]
    search_fields = ["vm__name", "snapshot_id"]


@admin.register(PendingRestore)
class PendingRestoreAdmin(ReadOnlyAdmin):
    list_display = ["vm", "backup", "created_at"]
    list_select_related = ["vm", "backup__vm"]
