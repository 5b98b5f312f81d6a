from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.tenancy import CHANGE
from providers import services, yaml_format
from providers.api.serializers import (
    ConnectionTestSerializer,
    ProviderDocumentSerializer,
    ProviderSerializer,
    ProviderYAMLSerializer,
)
from providers.drivers import CloudError
from providers.filters import ProviderFilterSet
from providers.models import Provider


def _document(request) -> dict:
    """The request body as the document's mapping (the serializer only documents it); the
    services check its fields. Anything but a JSON object is refused here: `dict()` of a list
    of pairs would have been taken as fields."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationError(
            {
                "non_field_errors": [
                    "the body must be a JSON object with name, provider, connection..., "
                    f"not {_json_type(data)}"
                ]
            }
        )
    return data


def _json_type(value) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


class CanChangeProvider(permissions.BasePermission):
    """Only an operator changes a shared provider: 403 before the body is even read (the
    services check again, with the same for_user rule)."""

    message = "this provider is shared; only an operator can change it"
    changes = {"update", "partial_update", "destroy", "update_yaml"}

    def has_object_permission(self, request, view, obj):
        if view.action not in self.changes:
            return True
        return Provider.objects.for_user(request.user, CHANGE).filter(pk=obj.pk).exists()


class ProviderViewSet(viewsets.ModelViewSet):
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilterSet
    permission_classes = [permissions.IsAuthenticated, CanChangeProvider]

    def get_queryset(self):
        return Provider.objects.for_user(self.request.user).select_related("owner")

    def _respond(self, provider, code=status.HTTP_200_OK):
        return Response(self.get_serializer(provider).data, status=code)

    def create(self, request, *args, **kwargs):
        provider = services.create_provider(request.user, _document(request))
        return self._respond(provider, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        provider = self.get_object()
        data = _document(request)
        if kwargs.get("partial"):
            current = yaml_format.load(yaml_format.dump(provider))
            current["connection"].pop("token", None)
            data = {**current, **data}
        provider = services.update_provider(request.user, provider, data)
        return self._respond(provider)

    def destroy(self, request, *args, **kwargs):
        services.delete_provider(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ProviderYAMLSerializer, responses={201: ProviderSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_yaml(self, request):
        """Create a provider from the document's YAML (`oneprovider create provider.yaml`)."""
        body = ProviderYAMLSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        provider = services.import_yaml(
            request.user, body.validated_data["yaml"], body.validated_data["source"]
        )
        return self._respond(provider, status.HTTP_201_CREATED)

    @extend_schema(request=ProviderYAMLSerializer, responses={200: ProviderSerializer})
    @action(detail=True, methods=["put"], url_path="yaml")
    def update_yaml(self, request, pk=None):
        """Replace a provider from YAML (`oneprovider update`); a masked token keeps the old one."""
        provider = self.get_object()  # 404 or 403 (CanChangeProvider) before the body is read
        body = ProviderYAMLSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        provider = services.update_from_yaml(
            request.user, provider, body.validated_data["yaml"], body.validated_data["source"]
        )
        return self._respond(provider)

    @extend_schema(
        responses={
            (200, "application/yaml"): OpenApiResponse(
                ProviderDocumentSerializer, description="the provider file, as YAML"
            )
        }
    )
    @update_yaml.mapping.get
    def export_yaml(self, request, pk=None):
        """The provider in the document's YAML format, token masked."""
        return HttpResponse(yaml_format.dump(self.get_object()), content_type="application/yaml")

    @extend_schema(request=None, responses={200: ConnectionTestSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Check the token against DigitalOcean (`GET /v2/account`)."""
        provider = self.get_object()
        try:
            result = {"ok": True, **services.test_connection(provider)}
        except CloudError as exc:
            result = {"ok": False, "error": str(exc)}
        return Response(ConnectionTestSerializer(result).data)
