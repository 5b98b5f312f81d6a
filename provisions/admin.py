from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from core.admin import ReadOnlyAdmin
from provisions import services
from provisions.models import (
    CloudResource,
    Host,
    HostEvent,
    Job,
    JobLogLine,
    MeteredDroplet,
    Provision,
    ProvisionEvent,
)
from provisions.secgroups import admin as secgroups_admin  # noqa: F401 (registers its admin)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Every field shown is read-only: without this, a non-editable one (auto_now_add
        # `at`) cannot go into the inline's form and the change page fails.
        return self.fields


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
        "problem",
        "failed_probes",
        "monitored_at",
        "last_error",
    ]
    show_change_link = True  # the host's page has its history


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
        "drift",
        "drift_checked_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["ssh_private_key_encrypted", "host_key_private_encrypted", "host_key_public"]
    inlines = [HostInline, CloudResourceInline, EventInline]
    actions = ["retry", "repair", "delete_in_cloud", "delete_with_cleanup"]

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

    @admin.action(description="Repair what monitoring found (drift, hosts in ERROR)")
    def repair(self, request, queryset):
        self._each(request, queryset, services.repair_provision, "repair queued")

    @admin.action(description="Delete in DigitalOcean (droplets, firewall, VPC, key)")
    def delete_in_cloud(self, request, queryset):
        self._each(request, queryset, services.delete_provision, "delete queued")

    @admin.action(description="Delete in DigitalOcean, terminating its VMs (cleanup)")
    def delete_with_cleanup(self, request, queryset):
        def delete(user, provision):
            return services.delete_provision(user, provision, cleanup=True)

        self._each(request, queryset, delete, "delete with cleanup queued")


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


class HostEventInline(ReadOnlyInline):
    model = HostEvent
    fields = ["at", "source", "actor", "from_state", "to_state", "reason"]
    ordering = ["-id"]


@admin.register(Host)
class HostAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "name",
        "provision",
        "state",
        "problem",
        "failed_probes",
        "monitored_at",
        "public_ip",
    ]
    list_filter = ["state", "problem"]
    search_fields = ["name", "public_ip", "provision__name"]
    list_select_related = ["provision"]
    inlines = [HostEventInline]


@admin.register(HostEvent)
class HostEventAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "host",
        "provision",
        "source",
        "actor",
        "from_state",
        "to_state",
        "reason",
    ]
    list_filter = ["source", "to_state"]
    search_fields = ["host__name", "reason"]
    list_select_related = ["host__provision", "actor"]

    @admin.display(ordering="host__provision")
    def provision(self, event):
        return event.host.provision


@admin.register(MeteredDroplet)
class MeteredDropletAdmin(ReadOnlyAdmin):
    """Droplet lives as billed: what the cost reports add up."""

    list_display = [
        "droplet_id",
        "provision",
        "host_name",
        "size",
        "price_hourly",
        "price_monthly",
        "started_at",
        "ended_at",
    ]
    list_select_related = ["provision"]
    list_filter = ["size"]
    search_fields = ["droplet_id", "host_name", "provision__name"]
    date_hierarchy = "started_at"
