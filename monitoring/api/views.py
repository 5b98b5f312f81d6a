"""`/api/vms/ID/monitoring/` and `/api/hosts/ID/monitoring/`: the graphs' data (and `onevm
show`'s MONITORING section). Routed explicitly in portal.api_urls, before the router: vms and
provisions never import monitoring, which builds on both."""

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from monitoring import series
from monitoring.models import VMSample
from provisions.queries import hosts_for
from vms.choices import VMState
from vms.models import VM


def _numbers(help_text: str, integer: bool = False):
    child = serializers.IntegerField if integer else serializers.FloatField
    return serializers.ListField(child=child(allow_null=True), help_text=help_text)


class _Series(serializers.Serializer):
    interval = serializers.FloatField(help_text="seconds between samples (MONITOR_INTERVAL)")
    at = _numbers("sample times, epoch seconds, oldest first", integer=True)


class VMLatestSerializer(serializers.Serializer):
    at = serializers.IntegerField()
    cpu_percent = serializers.FloatField(allow_null=True, help_text="% of one core")
    memory_mb = serializers.FloatField()
    net_rx_bytes = serializers.IntegerField(help_text="cumulative, as OpenNebula's NETRX")
    net_tx_bytes = serializers.IntegerField(help_text="cumulative, as OpenNebula's NETTX")
    net_rx_bps = serializers.FloatField(allow_null=True)
    net_tx_bps = serializers.FloatField(allow_null=True)
    disk_used_mb = serializers.FloatField(
        allow_null=True, help_text="MiB its disk holds; null without a disk of its own"
    )


class VMSeriesSerializer(_Series):
    cpu_percent = _numbers("% of one core; null for the first sample of a container")
    memory_mb = _numbers("MiB")
    net_rx_bps = _numbers("received bytes/s; null for the first point and after a reset")
    net_tx_bps = _numbers("sent bytes/s; null for the first point and after a reset")
    disk_used_mb = _numbers("MiB its disk holds; null without a disk of its own")
    disk_mb = serializers.IntegerField(allow_null=True, help_text="its disk's size, MiB")
    latest = VMLatestSerializer(allow_null=True, help_text="the newest sample, at any age")


class HostSeriesSerializer(_Series):
    cpu_percent = _numbers("busy share of all CPUs; null for the first sample")
    memory_used_mb = _numbers("MiB", integer=True)
    memory_total_mb = _numbers("MiB", integer=True)
    load1 = _numbers("1-minute load average")
    disk_used_mb = _numbers("MiB", integer=True)
    disk_total_mb = _numbers("MiB", integer=True)
    vms_running = _numbers("containers running", integer=True)


HOURS = OpenApiParameter(
    "hours",
    int,
    description=f"how far back, {series.MIN_HOURS}-{series.MAX_HOURS} (default 1)",
)
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="hours out of range"),
    404: OpenApiResponse(ErrorSerializer, description="no such VM/host, or not yours"),
}


def _hours(request) -> int:
    try:
        return series.parse_hours(request.query_params.get("hours"))
    except ValueError as exc:
        raise exceptions.ValidationError(str(exc)) from None


class VMMonitoringView(APIView):
    @extend_schema(
        operation_id="vms_monitoring",
        tags=["vms"],
        parameters=[HOURS],
        responses={200: VMSeriesSerializer, **ERRORS},
    )
    def get(self, request, pk):
        """A VM's CPU, memory and network samples of the last `hours` hours."""
        vm = get_object_or_404(VM.objects.for_user(request.user), pk=pk)
        hours = _hours(request)
        return Response({**series.vm_series(vm, hours), "latest": series.latest_vm(vm)})


class HostMonitoringView(APIView):
    @extend_schema(
        operation_id="hosts_monitoring",
        tags=["hosts"],
        parameters=[HOURS],
        responses={200: HostSeriesSerializer, **ERRORS},
    )
    def get(self, request, pk):
        """A host's CPU, memory, load, disk and running-VM samples of the last `hours` hours."""
        host = get_object_or_404(hosts_for(request.user), pk=pk)
        hours = _hours(request)
        return Response(series.host_series(host, hours))


class VMUsageSerializer(serializers.Serializer):
    vm = serializers.IntegerField()
    cpu_percent = serializers.FloatField(allow_null=True, help_text="% of one core")
    memory_mb = serializers.FloatField()


class VMUsageView(APIView):
    @extend_schema(
        operation_id="vms_usage",
        tags=["vms"],
        responses={200: VMUsageSerializer(many=True)},
    )
    def get(self, request):
        """The newest sample of each of your VMs that has not ended (`onevm list`'s UCPU and
        UMEM); a VM monitoring has not seen yet is absent. One query."""
        newest = VMSample.objects.filter(vm=OuterRef("pk")).order_by("-at").values("pk")[:1]
        vms = VM.objects.for_user(request.user).exclude(state=VMState.DONE)
        samples = VMSample.objects.filter(pk__in=vms.annotate(s=Subquery(newest)).values("s"))
        return Response(
            [
                {"vm": vm, "cpu_percent": cpu, "memory_mb": memory}
                for vm, cpu, memory in samples.values_list("vm_id", "cpu_percent", "memory_mb")
            ]
        )
