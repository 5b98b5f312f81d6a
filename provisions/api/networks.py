"""/api/networks/: the clusters' networks; private ones with their address range, VNI and
leases. POST adds a private network (a VXLAN segment) to a RUNNING provision."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from provisions import services
from provisions.models import Network
from provisions.networks import network_leases, networks_for


class NetworkSerializer(serializers.ModelSerializer):
    provision = serializers.CharField(source="provision.name", read_only=True)
    provision_id = serializers.IntegerField(read_only=True)
    leases = serializers.IntegerField(source="lease_total", read_only=True)

    class Meta:
        model = Network
        fields = [
            "id",
            "name",
            "kind",
            "address_range",
            "vni",
            "provision",
            "provision_id",
            "leases",
        ]


class LeaseSerializer(serializers.ModelSerializer):
    """A lease (vms.Lease) reached through `Network.leases`: provisions never imports vms."""

    mac = serializers.CharField(source="nic.mac", read_only=True)
    nic = serializers.IntegerField(source="nic.index", read_only=True)
    vm_id = serializers.IntegerField(source="nic.vm_id", read_only=True)
    vm = serializers.CharField(source="nic.vm.name", read_only=True)
    host = serializers.CharField(source="nic.vm.host.name", default=None, read_only=True)

    class Meta:
        model = Network._meta.get_field("leases").related_model
        fields = ["ip", "mac", "vm_id", "vm", "nic", "host", "created_at"]


class NetworkDetailSerializer(NetworkSerializer):
    lease_list = serializers.SerializerMethodField()

    class Meta(NetworkSerializer.Meta):
        fields = NetworkSerializer.Meta.fields + ["lease_list"]

    @extend_schema(responses=LeaseSerializer(many=True))
    def get_lease_list(self, network) -> list[dict]:
        return LeaseSerializer(network_leases(network), many=True).data


class NetworkCreateSerializer(serializers.Serializer):
    provision = serializers.CharField(help_text="provision ID or name")
    name = serializers.CharField()
    address_range = serializers.CharField(
        required=False, allow_blank=True, help_text="private IPv4 CIDR; default: the next free /24"
    )


class NetworkViewSet(
    mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    filterset_fields = ["name", "kind", "provision"]

    def get_queryset(self):
        return networks_for(self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return NetworkCreateSerializer
        return NetworkDetailSerializer if self.action == "retrieve" else NetworkSerializer

    @extend_schema(request=NetworkCreateSerializer, responses={201: NetworkDetailSerializer})
    def create(self, request):
        body = NetworkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        provision = services.find_provision(request.user, data["provision"])
        network = services.create_network(
            request.user,
            provision,
            name=data["name"],
            address_range=data.get("address_range") or None,
        )
        network = self.get_queryset().get(pk=network.pk)
        return Response(NetworkDetailSerializer(network).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={202: None})
    def destroy(self, request, pk=None):
        """Delete a private network no live VM uses; the hosts drop its VXLAN segment."""
        services.delete_network(request.user, self.get_object())
        return Response(status=status.HTTP_202_ACCEPTED)
