"""Quotas in the API: `/api/groups/{id}/quota/` and `/api/users/{username}/quota/` show what
is used of each limit (`onegroup show`, `oneuser show`) and let operators set them."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core import quota_services
from core.api.errors import ErrorSerializer
from core.quotas import RESOURCES, Whose


class QuotaLineSerializer(serializers.Serializer):
    resource = serializers.CharField()
    label = serializers.CharField(help_text="OpenNebula's name: VMS, CPU, MEMORY ...")
    used = serializers.CharField(help_text="a number, as text (money with two decimals)")
    limit = serializers.CharField(allow_null=True, help_text="null: no limit")
    used_text = serializers.CharField()
    limit_text = serializers.CharField()


class QuotaSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="user or group")
    name = serializers.CharField()
    quotas = QuotaLineSerializer(many=True)


def _limit_field(resource):
    unit = {"MB": " in MB", "$": " in dollars", "": ""}[resource.unit]
    return serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=f"{resource.label}{unit}; null or empty: the default",
    )


QuotaChangeSerializer = type(
    "QuotaChangeSerializer",
    (serializers.Serializer,),
    {resource.name: _limit_field(resource) for resource in RESOURCES},
)


def answer(whose: Whose) -> Response:
    return Response({"kind": whose.kind, "name": whose.name, "quotas": quota_services.lines(whose)})


def change(request, whose: Whose) -> Response:
    """Set the limits the body names (operators); others stay."""
    unknown = sorted(set(request.data) - {resource.name for resource in RESOURCES})
    body = QuotaChangeSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    values = {**{name: request.data[name] for name in unknown}, **body.validated_data}
    quota_services.set_quota(request.user, whose, values)
    return answer(whose)


schema = extend_schema(responses={200: QuotaSerializer})
change_schema = extend_schema(
    request=QuotaChangeSerializer, responses={200: QuotaSerializer, 400: ErrorSerializer}
)
