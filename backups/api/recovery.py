"""`/api/vms/ID/recover/` (operators: OpenNebula's `onevm recover`) and
`/api/vms/ID/recovery-policy/` (what becomes of the VM when its host is lost)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import recovery
from core.api.errors import ErrorSerializer
from core.tenancy import for_change
from vms.choices import RecoveryPolicy
from vms.models import VM


class RecoverSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(choices=recovery.OPERATIONS)


class PolicySerializer(serializers.Serializer):
    policy = serializers.ChoiceField(
        choices=RecoveryPolicy.choices, allow_blank=True, help_text="empty: the template's"
    )


def _answer(vm: VM) -> dict:
    return {
        "id": vm.pk,
        "name": vm.name,
        "state": vm.state,
        "host": vm.host.name if vm.host_id else None,
        "policy": vm.recovery_policy,
        "recovery": vm.recovery(),
    }


class RecoverView(APIView):
    @extend_schema(request=RecoverSerializer, responses={200: dict, 400: ErrorSerializer})
    def post(self, request, pk):
        vm = get_object_or_404(VM.objects.for_user(request.user), pk=pk)
        body = RecoverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            _answer(recovery.operate(request.user, vm, body.validated_data["operation"]))
        )


class RecoveryPolicyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        return Response(_answer(get_object_or_404(VM.objects.for_user(request.user), pk=pk)))

    @extend_schema(request=PolicySerializer, responses={200: dict, 400: ErrorSerializer})
    def put(self, request, pk):
        vm = for_change(VM.objects, request.user, pk)
        body = PolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        VM.objects.filter(pk=vm.pk).update(recovery_policy=body.validated_data["policy"])
        vm.refresh_from_db()
        return Response(_answer(vm))
