from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import group_services
from core.api.errors import ErrorSerializer
from core.api.ownership import group_field
from marketplace import services, sync
from marketplace.models import Marketplace, MarketplaceApp


class MarketplaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Marketplace
        fields = ["id", "name", "description", "kind", "index_url", "synced_at", "sync_error"]


class AppSerializer(serializers.ModelSerializer):
    marketplace = serializers.CharField(source="marketplace.name", read_only=True)

    class Meta:
        model = MarketplaceApp
        fields = [
            "id",
            "name",
            "version",
            "description",
            "os_id",
            "os_version",
            "arch",
            "marketplace",
            "image_url",
            "sha256",
            "size_bytes",
            "template",
            "state",
            "updated_at",
        ]


class ExportSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="name of the new image and VM template")
    datastore = serializers.CharField(
        help_text="image datastore ID or name, e.g. digitalocean-cluster-image"
    )
    group = group_field()


class ExportResultSerializer(serializers.Serializer):
    image = serializers.IntegerField()
    template = serializers.IntegerField()


class MarketplaceViewSet(viewsets.ReadOnlyModelViewSet):
    """Marketplaces are shared catalogues: everyone reads them, operators sync them."""

    queryset = Marketplace.objects.all()
    serializer_class = MarketplaceSerializer

    @extend_schema(
        request=None,
        responses={
            200: MarketplaceSerializer,
            502: OpenApiResponse(ErrorSerializer, description="its index could not be read"),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAdminUser])
    def sync(self, request, pk=None):
        marketplace = self.get_object()
        try:
            sync.sync(marketplace)
        except sync.SyncError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_502_BAD_GATEWAY)
        marketplace.refresh_from_db()
        return Response(MarketplaceSerializer(marketplace).data)


class AppViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = MarketplaceApp.objects.select_related("marketplace")
    serializer_class = AppSerializer
    filterset_fields = ["name", "marketplace", "state", "os_id"]

    @extend_schema(request=ExportSerializer, responses={201: ExportResultSerializer})
    @action(detail=True, methods=["post"])
    def export(self, request, pk=None):
        """`onemarketapp export APP NAME -d DATASTORE`: an Image and a VM template."""
        app = self.get_object()
        body = ExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        image, template = services.export_app(
            request.user,
            app.pk,
            body.validated_data["name"],
            body.validated_data["datastore"],
            group=group_services.chosen_group(request.user, body.validated_data.get("group")),
        )
        return Response(
            {"image": image.pk, "template": template.pk}, status=status.HTTP_201_CREATED
        )
