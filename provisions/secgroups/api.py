"""/api/secgroups/: the provisions' security groups (inbound rules added to the provision's
DigitalOcean firewall on top of its defaults). Every change starts a firewall job; the rules
are checked by provisions.secgroups.rules alone, so a bad one is the same 400 here as everywhere."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import ErrorSerializer
from provisions import services
from provisions.api.serializers import JobSerializer
from provisions.secgroups import services as secgroup_services
from provisions.secgroups.models import SecurityGroup

RULES_HELP = (
    'inbound rules: {"protocol": "tcp"|"udp"|"icmp", "ports": "80" | "8000-8100" | "0" (all; '
    'none for icmp), "sources": ["203.0.113.0/24", "2001:db8::/32"]}'
)


class RuleSerializer(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=["tcp", "udp", "icmp"])
    ports = serializers.CharField(help_text='"0" means all ports (and is every ICMP rule\'s)')
    sources = serializers.ListField(child=serializers.CharField(), help_text="CIDRs")


@extend_schema_field(RuleSerializer(many=True))
class RulesField(serializers.Field):
    """Rules shown with their sources as a plain list of CIDRs; taken as sent, for the
    service to check."""

    def to_representation(self, rules):
        return [{**r, "sources": (r.get("sources") or {}).get("addresses", [])} for r in rules]

    def to_internal_value(self, data):
        return data


class SecurityGroupSerializer(serializers.ModelSerializer):
    provision = serializers.CharField(source="provision.name", read_only=True)
    provision_id = serializers.IntegerField(read_only=True)
    rules = RulesField(read_only=True)

    class Meta:
        model = SecurityGroup
        fields = ["id", "name", "description", "provision", "provision_id", "rules", "updated_at"]


class SecurityGroupCreateSerializer(serializers.Serializer):
    provision = serializers.CharField(help_text="provision ID or name")
    name = serializers.CharField()
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )
    rules = RulesField(help_text=RULES_HELP)


class SecurityGroupUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    rules = RulesField(required=False, help_text=RULES_HELP + "; replaces the group's rules")


class ReconcileSerializer(serializers.Serializer):
    provision = serializers.CharField(help_text="provision ID or name")


REFUSED = {
    400: OpenApiResponse(ErrorSerializer, "bad rule, provision not RUNNING or a job running"),
    404: OpenApiResponse(ErrorSerializer, "no such security group or provision"),
}


class SecurityGroupViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    filterset_fields = ["name", "provision"]

    def get_queryset(self):
        return secgroup_services.groups_for(self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return SecurityGroupCreateSerializer
        if self.action in ("update", "partial_update"):
            return SecurityGroupUpdateSerializer
        if self.action == "reconcile":
            return ReconcileSerializer
        return SecurityGroupSerializer

    def _shown(self, group, code=status.HTTP_200_OK):
        group = self.get_queryset().get(pk=group.pk)
        return Response(SecurityGroupSerializer(group).data, status=code)

    @extend_schema(responses={201: SecurityGroupSerializer, **REFUSED})
    def create(self, request):
        body = SecurityGroupCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        provision = services.find_provision(request.user, data["provision"])
        group = secgroup_services.create_group(
            request.user,
            provision,
            name=data["name"],
            rules=data["rules"],
            description=data["description"],
        )
        return self._shown(group, status.HTTP_201_CREATED)

    @extend_schema(responses={200: SecurityGroupSerializer, **REFUSED})
    def update(self, request, pk=None, partial=False):
        body = SecurityGroupUpdateSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        group = secgroup_services.update_group(
            request.user, self.get_object(), **body.validated_data
        )
        return self._shown(group)

    @extend_schema(responses={200: SecurityGroupSerializer, **REFUSED})
    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    @extend_schema(responses={202: JobSerializer, **REFUSED})
    def destroy(self, request, pk=None):
        """Delete the group; the firewall job removes its rules from the cloud firewall."""
        job = secgroup_services.delete_group(request.user, self.get_object())
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ReconcileSerializer, responses={202: JobSerializer, **REFUSED})
    @action(detail=False, methods=["post"])
    def reconcile(self, request):
        """Check the provision's cloud firewall and put the portal's rules back if they were
        changed outside the portal."""
        body = ReconcileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        provision = services.find_provision(request.user, body.validated_data["provision"])
        job = secgroup_services.reconcile(request.user, provision)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
