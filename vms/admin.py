from django.contrib import admin

from vms.models import NIC, VM, Image, PortBlock, UserQuota, VMLogLine, VMTemplate


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


@admin.register(VM)
class VMAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "state", "host", "cpu", "memory_mb", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner", "host"]
    readonly_fields = ["owner", "template", "image", "host", "state", "failure_reason"]
    inlines = [NICInline, LogInline]


@admin.register(VMTemplate)
class VMTemplateAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "image", "cpu", "memory_mb"]
    search_fields = ["name", "owner__username"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "datastore", "sha256"]
    search_fields = ["name"]


@admin.register(PortBlock)
class PortBlockAdmin(admin.ModelAdmin):
    list_display = ["id", "host", "block", "nic"]
    list_select_related = ["host", "nic"]


admin.site.register(UserQuota)
