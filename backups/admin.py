from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from backups import recovery
from backups.models import BackupSchedule, BackupStore, PendingRestore, VMBackup
from core.admin import ReadOnlyAdmin
from vms.admin import VMAdmin


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


@admin.register(BackupSchedule)
class BackupScheduleAdmin(admin.ModelAdmin):
    list_display = ["id", "vm", "template", "frequency", "at", "keep_daily", "keep_weekly"]
    list_select_related = ["vm", "template"]
    raw_id_fields = ["vm", "template"]


@admin.register(PendingRestore)
class PendingRestoreAdmin(ReadOnlyAdmin):
    list_display = ["vm", "backup", "created_at"]
    list_select_related = ["vm", "backup__vm"]


def _recover_action(operation: str):
    """An admin action on VMs for one of `onevm recover`'s operations (backups/recovery.py)."""

    def act(modeladmin, request, queryset):
        for vm in queryset:
            try:
                recovery.operate(request.user, vm, operation)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(getattr(exc, "messages", [str(exc)]))
                modeladmin.message_user(request, f"{vm.name}: {text}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{vm.name}: recover --{operation} done")

    act.__name__ = f"recover_{operation}"
    return admin.action(description=f"Recover: --{operation} (a VM whose host is lost)")(act)


# The VM admin (vms/admin.py) gets `onevm recover`'s operations: vms knows nothing of backups.
VMAdmin.actions = [*(VMAdmin.actions or []), *map(_recover_action, recovery.OPERATIONS)]
