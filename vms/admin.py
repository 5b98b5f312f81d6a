from django.contrib import admin

from core.admin import OUTBOUND_URL_FIELDS, ReadOnlyAdmin
from vms.models import (
    NIC,
    VM,
    Image,
    PortBlock,
    VMEvent,
    VMJob,
    VMLogLine,
    VMSnapshot,
    VMTemplate,
)


class NICInline(admin.TabularInline):
    model = NIC
    extra = 0
    readonly_fields = ["network", "index", "ip"]
    can_delete = False


class LogInline(admin.TabularInline):
    model = VMLogLine
    extra = 0
    readonly_fields = ["at", "level", "message"]
    can_delete = False


class EventInline(admin.TabularInline):
    model = VMEvent
    extra = 0
    fields = readonly_fields = ["at", "source", "from_state", "to_state", "reason"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VM)
class VMAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "state",
        "host",
        "cpu",
        "memory_mb",
        "disk_mb",
        "created_at",
    ]
    list_filter = ["state"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner", "host"]
    readonly_fields = ["owner", "template", "image", "host", "state", "failure_reason"]
    inlines = [NICInline, EventInline, LogInline]


@admin.register(VMTemplate)
class VMTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "image",
        "cpu",
        "memory_mb",
        "disk_mb",
        "cpu_quota",
        "pids_max",
        "lxc_unprivileged",
    ]
    list_filter = ["lxc_unprivileged"]
    search_fields = ["name", "owner__username"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "datastore", "sha256"]
    formfield_overrides = OUTBOUND_URL_FIELDS
    search_fields = ["name"]


@admin.register(PortBlock)
class PortBlockAdmin(admin.ModelAdmin):
    list_display = ["id", "host", "block", "nic"]
    list_select_related = ["host", "nic"]


@admin.register(VMEvent)
class VMEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "vm", "owner", "source", "from_state", "to_state", "reason"]
    list_filter = ["source", "to_state"]
    search_fields = ["vm__name", "vm__owner__username", "reason"]
    list_select_related = ["vm__owner"]

    @admin.display(ordering="vm__owner")
    def owner(self, event):
        return event.vm.owner


@admin.register(VMJob)
class VMJobAdmin(ReadOnlyAdmin):
    """Who ran which VM job when: a lease taken over shows in `takeovers` and the VM's log."""

    list_display = ["id", "vm", "action", "state", "lease_owner", "takeovers", "created_at"]
    list_filter = ["state", "action"]
    search_fields = ["vm__name", "vm__owner__username", "lease_owner"]
    list_select_related = ["vm"]


@admin.register(VMSnapshot)
class VMSnapshotAdmin(ReadOnlyAdmin):
    """Snapshots are taken and removed by their jobs on the host: read only here."""

    list_display = ["id", "vm", "name", "state", "disk_mb", "size_bytes", "freeze_ms", "created_at"]
    list_filter = ["state"]
    search_fields = ["vm__name", "name"]
    list_select_related = ["vm"]
