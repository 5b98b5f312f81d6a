from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import group_services
from core.api.errors import ErrorSerializer
from core.api.ownership import OwnershipActions, group_field
from core.api.params import int_param
from vms import disks, lxc, placement, resize, services
from vms.choices import RecoveryPolicy, VMState
from vms.models import NIC, VM, Image, VMLogLine, VMTemplate


class OwnedSerializer(serializers.ModelSerializer):
    """OpenNebula's USER and GROUP columns."""

    user = serializers.CharField(source="owner.username", default=None, read_only=True)
    group = serializers.CharField(source="group.name", default=None, read_only=True)


class ImageSerializer(OwnedSerializer):
    datastore = serializers.CharField(source="datastore.name", read_only=True)

    class Meta:
        model = Image
        fields = [
            "id",
            "user",
            "group",
            "name",
            "datastore",
            "url",
            "sha256",
            "size_bytes",
            "os_id",
            "created_at",
        ]


class TemplateSerializer(OwnedSerializer):
    image = serializers.CharField(source="image.name", read_only=True)
    networks = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = VMTemplate
        fields = [
            "id",
            "user",
            "group",
            "name",
            "image",
            "cpu",
            "memory_mb",
            "cpu_quota",
            "pids_max",
            "swap_mb",
            "disk_mb",
            "lxc_unprivileged",
            "recovery_policy",
            "networks",
            "context",
            "created_at",
        ]


class TemplateUpdateSerializer(serializers.Serializer):
    """What PATCH may change: sizing, limits and isolation. `lxc_unprivileged` false
    (OpenNebula's LXC_UNPRIVILEGED = no, a privileged container) is for operators only: 403."""

    cpu = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    memory_mb = serializers.IntegerField(required=False)
    cpu_quota = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, allow_null=True
    )
    pids_max = serializers.IntegerField(required=False, allow_null=True)
    swap_mb = serializers.IntegerField(required=False, allow_null=True)
    disk_mb = serializers.IntegerField(
        required=False, allow_null=True, help_text="the VM's disk in MB; null: the default"
    )
    lxc_unprivileged = serializers.BooleanField(required=False)
    recovery_policy = serializers.ChoiceField(
        choices=RecoveryPolicy.choices,
        required=False,
        help_text="what becomes of its VMs when their host is lost",
    )


class DiskResizeSerializer(serializers.Serializer):
    size_mb = serializers.IntegerField(min_value=1, help_text="the disk's new size in MB")


class VMSerializer(OwnedSerializer):
    host = serializers.CharField(source="host.name", default=None, read_only=True)
    host_ip = serializers.CharField(source="host.public_ip", default=None, read_only=True)
    template = serializers.CharField(source="template.name", default=None, read_only=True)
    ip = serializers.SerializerMethodField()
    nics = serializers.SerializerMethodField()
    ports = serializers.SerializerMethodField()

    class Meta:
        model = VM
        fields = [
            "id",
            "user",
            "group",
            "name",
            "state",
            "template",
            "host",
            "host_ip",
            "ip",
            "nics",
            "cpu",
            "memory_mb",
            "disk_mb",
            "cpu_quota",
            "failure_reason",
            "placement_reason",
            "recovery_policy",
            "ports",
            "created_at",
            "updated_at",
        ]

    def get_ip(self, vm) -> str | None:
        nics = list(vm.nics.all())
        return nics[0].ip if nics else None

    def get_nics(self, vm) -> list[dict]:
        return [
            {
                "nic": nic.index,
                "network": nic.network.name if nic.network else None,  # None: deleted
                "kind": nic.network.kind if nic.network else None,
                "ip": nic.ip,
                "mac": nic.mac or None,
            }
            for nic in vm.nics.all()
        ]

    def get_ports(self, vm) -> list[dict]:
        return [
            {
                "nic": nic.index,
                "external_port_range": nic.port_block.external_range,
                "internal_port_range": nic.port_block.internal_range,
            }
            for nic in vm.nics.all()
            if hasattr(nic, "port_block")
        ]


class InstantiateSerializer(serializers.Serializer):
    name = serializers.CharField()
    nics = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    group = group_field()


class ActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(services.ACTIONS))


class ResizeSerializer(serializers.Serializer):
    """`onevm resize`: any of the three; what is not given stays. `cpu_quota` null clears it."""

    cpu = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    memory_mb = serializers.IntegerField(required=False)
    cpu_quota = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, allow_null=True
    )


class DeploySerializer(serializers.Serializer):
    host = serializers.CharField(help_text="host ID or name, in the VM's cluster")


class ExecSerializer(serializers.Serializer):
    command = serializers.ListField(child=serializers.CharField(), min_length=1)


class ExecResultSerializer(serializers.Serializer):
    exit_status = serializers.IntegerField()
    stdout = serializers.CharField()
    stderr = serializers.CharField()


class PortForwardEntrySerializer(serializers.Serializer):
    nic = serializers.IntegerField()
    network = serializers.CharField()
    host_ip = serializers.IPAddressField(allow_null=True)
    external_port_range = serializers.CharField(help_text="the host's ports, e.g. 9001:9100")
    internal_port_range = serializers.CharField(help_text="the VM's ports they map to")
    first_port = serializers.IntegerField()


class PortForwardSerializer(serializers.Serializer):
    forwards = PortForwardEntrySerializer(
        many=True, required=False, help_text="without `port`: one entry per public NIC"
    )
    mapping = serializers.CharField(
        required=False, help_text="with `port`: HOST_IP@EXTERNAL -> PORT"
    )


class VMLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = VMLogLine
        fields = ["id", "at", "level", "message"]


class ImageViewSet(OwnershipActions, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ImageSerializer
    filterset_fields = ["name"]

    def get_queryset(self):
        return Image.objects.for_user(self.request.user).select_related(
            "datastore", "owner", "group"
        )


class TemplateViewSet(OwnershipActions, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = TemplateSerializer
    filterset_fields = ["name"]

    def get_queryset(self):
        return (
            VMTemplate.objects.for_user(self.request.user)
            .select_related("image", "owner", "group")
            .prefetch_related("networks")
        )

    @extend_schema(
        request=TemplateUpdateSerializer,
        responses={200: TemplateSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def partial_update(self, request, pk=None):
        template = self.get_object()
        body = TemplateUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.update_template(request.user, template, dict(body.validated_data))
        return Response(TemplateSerializer(self.get_queryset().get(pk=template.pk)).data)

    @extend_schema(request=InstantiateSerializer, responses={201: VMSerializer})
    @action(detail=True, methods=["post"])
    def instantiate(self, request, pk=None):
        template = self.get_object()
        body = InstantiateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        vm = services.instantiate(
            request.user,
            template.pk,
            name=body.validated_data["name"],
            nics=body.validated_data["nics"],
            group=group_services.chosen_group(request.user, body.validated_data.get("group")),
        )
        return Response(
            VMSerializer(_vms(request.user).get(pk=vm.pk)).data, status=status.HTTP_201_CREATED
        )


def _vms(user):
    return (
        VM.objects.for_user(user)
        .select_related("host", "template", "owner", "group")
        # One query for every NIC on the page, with its network and port block joined.
        .prefetch_related(
            Prefetch("nics", queryset=NIC.objects.select_related("network", "port_block"))
        )
    )


class VMViewSet(OwnershipActions, viewsets.ReadOnlyModelViewSet):
    serializer_class = VMSerializer
    filterset_fields = ["name", "state"]

    def get_queryset(self):
        queryset = _vms(self.request.user)
        if self.action == "list" and not self.request.query_params.get("all"):
            queryset = queryset.exclude(state=VMState.DONE)
        return queryset

    @extend_schema(responses={202: None})
    def destroy(self, request, pk=None):
        """Terminate the VM (its job ends the container)."""
        services.act(request.user, self.get_object(), "terminate")
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ActionSerializer, responses={202: VMSerializer})
    @action(detail=True, methods=["post"], url_path="action")
    def do_action(self, request, pk=None):
        vm = self.get_object()  # another's VM is a 404 whatever the body says
        body = ActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        vm = services.act(request.user, vm, body.validated_data["action"])
        return Response(VMSerializer(vm).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=DiskResizeSerializer,
        responses={
            200: VMSerializer,
            400: ErrorSerializer,
            502: OpenApiResponse(ErrorSerializer, description="its host could not be reached"),
        },
    )
    @action(detail=True, methods=["post"], url_path="disk-resize")
    def disk_resize(self, request, pk=None):
        """`onevm disk-resize NAME SIZE`: grow the VM's disk, online when it runs."""
        vm = self.get_object()
        body = DiskResizeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            disks.grow(request.user, vm, body.validated_data["size_mb"])
        except lxc.LXCError as exc:
            return Response({"detail": str(exc)}, status=502)
        return Response(VMSerializer(self.get_queryset().get(pk=vm.pk)).data)

    @extend_schema(
        request=ResizeSerializer,
        responses={
            200: VMSerializer,
            400: OpenApiResponse(ErrorSerializer, description="refused; nothing changed"),
            502: OpenApiResponse(ErrorSerializer, description="its host could not apply it"),
        },
    )
    @action(detail=True, methods=["post"], url_path="resize")
    def do_resize(self, request, pk=None):
        """Change a RUNNING VM's CPU and memory limits live (a POWEROFF VM's for its next
        start): `onevm resize NAME --cpu N --memory M --cpu-quota Q`."""
        vm = self.get_object()
        body = ResizeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            vm = resize.resize(request.user, vm, **body.validated_data)
        except resize.HostFailed as exc:
            return Response({"detail": str(exc)}, status=502)
        return Response(VMSerializer(_vms(request.user).get(pk=vm.pk)).data)

    @extend_schema(
        request=DeploySerializer,
        responses={
            202: VMSerializer,
            400: OpenApiResponse(ErrorSerializer),
            403: OpenApiResponse(ErrorSerializer, description="not an operator"),
        },
    )
    @action(detail=True, methods=["post"])
    def deploy(self, request, pk=None):
        """`onevm deploy NAME HOST` (operators): place a PENDING VM that waits for room on
        the chosen host, checked as the placement policy's choice is; its deploy job starts."""
        vm = self.get_object()
        body = DeploySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        placement.deploy(request.user, vm, body.validated_data["host"])
        return Response(
            VMSerializer(_vms(request.user).get(pk=vm.pk)).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        parameters=[OpenApiParameter("port", int, description="a port inside the VM")],
        responses={200: PortForwardSerializer},
    )
    @action(detail=True, methods=["get"], url_path="port-forward")
    def port_forward(self, request, pk=None):
        """`onevm port-forward ID [PORT]`: the VM's forwarded port ranges, or one mapping."""
        vm = self.get_object()
        port = int_param(request, "port", minimum=1, maximum=65535)
        if port is not None:
            return Response({"mapping": services.forwarded(vm, port)})
        return Response({"forwards": services.port_forwards(vm)})

    @extend_schema(
        request=ExecSerializer,
        responses={
            200: ExecResultSerializer,
            409: OpenApiResponse(ErrorSerializer, description="the VM is not RUNNING"),
            502: OpenApiResponse(ErrorSerializer, description="its host could not run it"),
        },
    )
    @action(detail=True, methods=["post"], url_path="exec")
    def execute(self, request, pk=None):
        """Run a command in the container (`onevm ssh NAME -- CMD`)."""
        vm = self.get_object()
        body = ExecSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if vm.state != VMState.RUNNING:
            return Response({"detail": f"VM {vm.name} is {vm.state}, not RUNNING"}, status=409)
        try:
            result = lxc.execute(vm, body.validated_data["command"])
        except lxc.LXCError as exc:
            return Response({"detail": str(exc)}, status=502)
        return Response(
            {"exit_status": result.exit_status, "stdout": result.stdout, "stderr": result.stderr}
        )

    @extend_schema(responses={200: VMLogSerializer(many=True)})
    # The whole log, not a page; the list's filters do not apply to one VM.
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def log(self, request, pk=None):
        """The VM's first 500 log lines."""
        return Response(VMLogSerializer(self.get_object().log.all()[:500], many=True).data)
