"""`chgrp` and `chown` on every viewset of objects with an owner and a group (provisions,
images, templates, VMs): `POST .../{id}/chgrp/ {"group": ...}`, `POST .../{id}/chown/
{"user": ...}`, answering the object as the viewset shows it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from core import group_services


def group_field():
    """The optional `group` of a create request: where the new object goes."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="group ID or name to create it in (default: your primary group)",
    )


class ChangeGroupSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="group ID or name")


class ChangeOwnerSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="username")


class OwnershipActions:
    """Mixed into a ModelViewSet-like view whose get_object() finds the object."""

    def _answer(self, obj):
        return Response(self.get_serializer(self.get_queryset().get(pk=obj.pk)).data)

    @extend_schema(request=ChangeGroupSerializer)
    @action(detail=True, methods=["post"])
    def chgrp(self, request, pk=None):
        """Move it to another group (you must be an admin or member of that group)."""
        obj = self.get_object()
        body = ChangeGroupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group_services.change_group(request.user, obj, body.validated_data["group"])
        return self._answer(obj)

    @extend_schema(request=ChangeOwnerSerializer)
    @action(detail=True, methods=["post"])
    def chown(self, request, pk=None):
        """Give it to another admin or member of its group (group admins and operators)."""
        obj = self.get_object()
        body = ChangeOwnerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group_services.change_owner(request.user, obj, body.validated_data["user"])
        return self._answer(obj)
