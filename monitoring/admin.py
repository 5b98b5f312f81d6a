from django.contrib import admin

from core.admin import ReadOnlyAdmin
from monitoring.models import HostSample, VMSample, WorkerHeartbeat, WorkerLease


@admin.register(HostSample)
class HostSampleAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "host",
        "provision",
        "cpu_percent",
        "load1",
        "memory_used_mb",
        "memory_total_mb",
        "disk_used_mb",
        "vms_running",
    ]
    list_filter = ["host__provision"]
    list_select_related = ["host__provision"]
    search_fields = ["host__name"]
    ordering = ["-at"]

    @admin.display(ordering="host__provision")
    def provision(self, sample):
        return sample.host.provision


@admin.register(VMSample)
class VMSampleAdmin(ReadOnlyAdmin):
    list_display = ["at", "vm", "owner", "cpu_percent", "memory_mb", "net_rx_bytes", "net_tx_bytes"]
    list_select_related = ["vm__owner"]
    search_fields = ["vm__name", "vm__owner__username"]
    ordering = ["-at"]

    @admin.display(ordering="vm__owner")
    def owner(self, sample):
        return sample.vm.owner


@admin.register(WorkerLease)
class WorkerLeaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "expires_at"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """The job workers alive (or stopped uncleanly within a day): /readyz wants one seen
    recently."""

    list_display = ["owner", "hostname", "pid", "started_at", "seen_at"]
