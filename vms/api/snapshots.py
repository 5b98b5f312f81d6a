"""`/api/vms/ID/snapshots/`: a VM's snapshots (`onevm snapshot-create|list|revert|delete`).
Routed explicitly in portal.api_urls, before the router's vms/<pk>/ routes."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorSerializer
from core.tenancy import for_change
from vms import snapshots
from vms.models import VM, VMSnapshot


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = VMSnapshot
        fields = ["id", "name", "state", "disk_mb", "size_bytes", "freeze_ms", "created_at"]


class SnapshotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False, allow_blank=True, help_text="empty: snap-<date>-<time>"
    )


def _vm(request, pk) -> VM:
    return get_object_or_404(VM.objects.for_user(request.user), pk=pk)


def _changeable(request, pk) -> VM:
    return for_change(VM.objects, request.user, pk)


class SnapshotListView(APIView):
    @extend_schema(responses={200: SnapshotSerializer(many=True)})
    def get(self, request, pk):
        """The VM's snapshots, oldest first (one being taken or deleted says so)."""
        vm = _vm(request, pk)
        return Response(SnapshotSerializer(vm.snapshots.order_by("id"), many=True).data)

    @extend_schema(
        request=SnapshotCreateSerializer,
        responses={202: SnapshotSerializer, 400: ErrorSerializer},
    )
    def post(self, request, pk):
        """Take a snapshot now: its job freezes the VM for the copy (freeze_ms once READY)."""
        vm = _changeable(request, pk)
        body = SnapshotCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        snapshot = snapshots.create(request.user, vm, body.validated_data.get("name") or None)
        snapshot.refresh_from_db()
        return Response(SnapshotSerializer(snapshot).data, status=status.HTTP_202_ACCEPTED)


class SnapshotView(APIView):
    @extend_schema(
        responses={202: OpenApiResponse(description="its deletion started"), 400: ErrorSerializer}
    )
    def delete(self, request, pk, snapshot):
        snapshots.delete(request.user, _changeable(request, pk), str(snapshot))
        return Response(status=status.HTTP_202_ACCEPTED)


class SnapshotRevertView(APIView):
    @extend_schema(request=None, responses={202: SnapshotSerializer, 400: ErrorSerializer})
    def post(self, request, pk, snapshot):
        """Stop the VM, put the snapshot's disk in place and start it again."""
        reverted = snapshots.revert(request.user, _changeable(request, pk), str(snapshot))
        return Response(SnapshotSerializer(reverted).data, status=status.HTTP_202_ACCEPTED)
