"""`/api/vms/ID/backups/`: a VM's backups (`onevm backup`, `backup-list`, `backup-delete`,
`restore`). Routed explicitly in portal.api_urls, before the router's vms/<pk>/ routes."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import services
from backups.models import VMBackup
from core.api.errors import ErrorSerializer
from core.tenancy import CHANGE, for_change
from vms.models import VM


class BackupSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="name", read_only=True)
    snapshot = serializers.CharField(source="short_id", read_only=True)

    class Meta:
        model = VMBackup
        fields = [
            "id",
            "snapshot",
            "state",
            "store",
            "scheduled",
            "disk_mb",
            "disk_bytes",
            "uploaded_bytes",
            "freeze_ms",
            "duration_s",
            "error",
            "requested_by",
            "created_at",
            "finished_at",
        ]


class RestoreSerializer(serializers.Serializer):
    backup = serializers.CharField(help_text="the backup's ID or its snapshot's short ID")
    as_name = serializers.CharField(
        required=False, allow_blank=True, help_text="restore as a new VM of this name"
    )
    provision = serializers.CharField(
        required=False, allow_blank=True, help_text="the new VM's cluster (with as_name)"
    )


def _vm(request, pk, action="view") -> VM:
    if action == CHANGE:
        return for_change(VM.objects, request.user, pk)
    return get_object_or_404(VM.objects.for_user(request.user), pk=pk)


class BackupListView(APIView):
    @extend_schema(responses={200: BackupSerializer(many=True)})
    def get(self, request, pk):
        """The VM's backups, newest first (one being taken says CREATING)."""
        listed = services.listed(request.user, _vm(request, pk)).select_related("store")
        return Response(BackupSerializer(listed, many=True).data)

    @extend_schema(request=None, responses={202: BackupSerializer, 400: ErrorSerializer})
    def post(self, request, pk):
        """Back the VM up now: frozen only for the copy of its disk, uploaded after."""
        taken = services.backup(request.user, _vm(request, pk, CHANGE))
        taken.refresh_from_db()
        return Response(BackupSerializer(taken).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="api_vms_backups_destroy_all", responses={200: dict, 400: ErrorSerializer}
    )
    def delete(self, request, pk):
        """Delete every backup of the VM from its store (an ended VM's too): {"deleted": N}."""
        return Response({"deleted": services.delete_all(request.user, _vm(request, pk, CHANGE))})


class BackupView(APIView):
    @extend_schema(
        operation_id="api_vms_backups_destroy",
        responses={202: OpenApiResponse(description="its deletion started"), 400: ErrorSerializer},
    )
    def delete(self, request, pk, backup):
        services.delete(request.user, _vm(request, pk, CHANGE), str(backup))
        return Response(status=status.HTTP_202_ACCEPTED)


class RestoreView(APIView):
    @extend_schema(request=RestoreSerializer, responses={202: dict, 400: ErrorSerializer})
    def post(self, request, pk):
        """Restore a backup in place (the VM's disk replaced), or with `as_name` as a new VM."""
        vm = _vm(request, pk, CHANGE)
        body = RestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("as_name"):
            new = services.restore_as(
                request.user, vm, data["backup"], data["as_name"], data.get("provision")
            )
            return Response(
                {"vm": new.pk, "name": new.name, "state": new.state},
                status=status.HTTP_202_ACCEPTED,
            )
        chosen = services.restore(request.user, vm, data["backup"])
        return Response(
            {"vm": vm.pk, "name": vm.name, "backup": chosen.pk}, status=status.HTTP_202_ACCEPTED
        )
