from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from provisions import services
from provisions.models import CloudResource, Host, Job, JobLogLine, Provision, ProvisionEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HostInline(ReadOnlyInline):
    model = Host
    fields = [
        "name",
        "state",
        "droplet_id",
        "public_ip",
        "private_ip",
        "cpu",
        "memory_mb",
        "last_error",
    ]


class CloudResourceInline(ReadOnlyInline):
    model = CloudResource
    fields = [
        "kind",
        "name",
        "cloud_id",
        "state",
        "owned",
        "planned_at",
        "created_at",
        "deleted_at",
    ]


class EventInline(ReadOnlyInline):
    model = ProvisionEvent
    fields = ["at", "actor", "from_state", "to_state", "reason"]


@admin.register(Provision)
class ProvisionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "state",
        "provider",
        "owner",
        "host_count",
        "failed_step",
        "created_at",
    ]
    list_filter = ["state", "provider__region"]
    search_fields = ["name", "tag", "owner__username"]
    list_select_related = ["provider", "owner"]
    readonly_fields = [
        "name",
        "provider",
        "owner",
        "state",
        "host_count",
        "size",
        "image",
        "tag",
        "ssh_public_key",
        "host_key_fingerprint",
        "failed_step",
        "error",
        "created_at",
        "updated_at",
    ]
    exclude = ["ssh_private_key_encrypted", "host_key_private_encrypted", "host_key_public"]
    inlines = [HostInline, CloudResourceInline, EventInline]
    actions = ["retry", "delete_in_cloud"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Removing the row would orphan droplets: use the "delete in DigitalOcean" action.
        return False

    def _each(self, request, queryset, action, verb):
        for provision in queryset:
            try:
                action(request.user, provision)
            except ValidationError as exc:
                self.message_user(
                    request, f"{provision.name}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{provision.name}: {verb}")

    @admin.action(description="Retry from the failed step")
    def retry(self, request, queryset):
        self._each(request, queryset, services.retry_provision, "retry queued")

    @admin.action(description="Delete in DigitalOcean (droplets, firewall, VPC, key)")
    def delete_in_cloud(self, request, queryset):
        self._each(request, queryset, services.delete_provision, "delete queued")


class LogInline(ReadOnlyInline):
    model = JobLogLine
    fields = ["at", "level", "message"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "provision",
        "kind",
        "state",
        "step",
        "steps_done",
        "steps_total",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "state"]
    list_select_related = ["provision"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [LogInline]

    def has_add_permission(self, request):
        return False
