"""`/api/backupstores/`: backup stores (`onebackupstore create|list|show|check|delete`). The
secret key is write-only: it is never shown again, only its last characters."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from backups import stores
from backups.models import BackupStore
from core.api.errors import ErrorSerializer


class StoreSerializer(serializers.ModelSerializer):
    provider = serializers.SlugRelatedField(slug_field="name", read_only=True)
    backups = serializers.IntegerField(source="backups.count", read_only=True)

    class Meta:
        model = BackupStore
        fields = [
            "id",
            "name",
            "provider",
            "endpoint",
            "region",
            "bucket",
            "access_key",
            "secret_hint",
            "checked_at",
            "created_at",
            "backups",
        ]


class StoreCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    endpoint = serializers.CharField(help_text="e.g. https://fra1.digitaloceanspaces.com")
    region = serializers.CharField(help_text="e.g. fra1")
    bucket = serializers.CharField()
    access_key = serializers.CharField()
    secret_key = serializers.CharField(write_only=True, help_text="never shown again")
    provider = serializers.CharField(
        required=False, allow_blank=True, help_text="provider ID or name: its VMs' store"
    )


class BackupStoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = StoreSerializer

    def get_queryset(self):
        stores = BackupStore.objects.for_user(self.request.user).select_related("provider")
        name = self.request.query_params.get("name")
        return stores.filter(name=name) if name else stores

    @extend_schema(
        request=StoreCreateSerializer, responses={201: StoreSerializer, 400: ErrorSerializer}
    )
    def create(self, request):
        """Set up a store: kept only once the bucket was written to and read back with the
        key (a wrong key, secret, bucket or an unreachable endpoint is a 400 naming it)."""
        body = StoreCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        store = stores.create(request.user, dict(body.validated_data))
        return Response(StoreSerializer(store).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: StoreSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Check the store again with its key."""
        return Response(StoreSerializer(stores.check(request.user, self.get_object())).data)

    @extend_schema(responses={204: None, 400: ErrorSerializer})
    def destroy(self, request, pk=None):
        stores.delete(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
