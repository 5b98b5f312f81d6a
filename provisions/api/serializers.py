from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.ownership import group_field
from providers import prices
from provisions.models import CloudResource, Datastore, Host, Job, JobLogLine, Network, Provision


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "state",
            "step",
            "steps_done",
            "steps_total",
            "percent",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class CapacitySerializer(serializers.Serializer):
    dimension = serializers.CharField(help_text="cpu, memory, disk")
    unit = serializers.CharField()
    total = serializers.FloatField(
        allow_null=True, help_text="what the host offers VMs; null: not reported yet (disk)"
    )
    reserved = serializers.FloatField(help_text="what its VMs (all but DONE) reserve")
    free = serializers.FloatField(allow_null=True)


class HostSerializer(serializers.ModelSerializer):
    vms_running = serializers.SerializerMethodField()
    capacity = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = [
            "id",
            "name",
            "state",
            "droplet_id",
            "public_ip",
            "private_ip",
            "host_key_fingerprint",
            "cpu",
            "memory_mb",
            "hostconfig_version",
            "last_error",
            "problem",
            "failed_probes",
            "monitored_at",
            "vms_running",
            "capacity",
        ]

    @extend_schema_field(CapacitySerializer(many=True, allow_null=True))
    def get_capacity(self, host):
        # Filled in by provisions.queries.attach_capacity; None where it was not asked for.
        return getattr(host, "capacity", None)

    def get_vms_running(self, host) -> int | None:
        # Counted by the detail queryset (provisions.queries.detail_prefetch); None elsewhere.
        return getattr(host, "vm_running_total", None)


class ClusterNetworkSerializer(serializers.ModelSerializer):
    """A network as listed in its provision; /api/networks/ has the leases."""

    class Meta:
        model = Network
        fields = ["id", "name", "kind", "address_range", "vni"]


class DatastoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Datastore
        fields = ["id", "name", "kind"]


class CloudResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudResource
        fields = [
            "id",
            "kind",
            "name",
            "cloud_id",
            "state",
            "owned",
            "planned_at",
            "created_at",
            "deleted_at",
        ]


class ProvisionSerializer(serializers.ModelSerializer):
    provider = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    group = serializers.CharField(source="group.name", default=None, read_only=True)
    hosts = serializers.IntegerField(source="host_total", read_only=True)
    clusters = serializers.SerializerMethodField()
    networks = serializers.IntegerField(source="network_total", read_only=True)
    datastores = serializers.IntegerField(source="datastore_total", read_only=True)
    job = serializers.SerializerMethodField()

    class Meta:
        model = Provision
        fields = [
            "id",
            "name",
            "state",
            "provider",
            "owner",
            "group",
            "hosts",
            "clusters",
            "networks",
            "datastores",
            "size",
            "image",
            "placement_policy",
            "tag",
            "host_key_fingerprint",
            "failed_step",
            "error",
            "job",
            "created_at",
            "updated_at",
        ]

    def get_provider(self, obj) -> dict:
        return {"id": obj.provider_id, "name": obj.provider.name, "region": obj.provider.region}

    def get_clusters(self, obj) -> int:
        return 1

    def get_job(self, obj) -> dict | None:
        job = getattr(obj, "latest_job", None)
        return JobSerializer(job).data if job else None


class EstimateSerializer(serializers.Serializer):
    """`4 x s-1vcpu-1gb = $0.0357/h, $24.00/month`: DigitalOcean bills per started hour, at
    most the monthly price in a calendar month."""

    count = serializers.IntegerField()
    size = serializers.CharField()
    hourly = serializers.DecimalField(max_digits=12, decimal_places=5, coerce_to_string=True)
    monthly = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    line = serializers.CharField()


class ProvisionDetailSerializer(ProvisionSerializer):
    host_list = HostSerializer(source="hosts", many=True, read_only=True)
    network_list = ClusterNetworkSerializer(source="networks", many=True, read_only=True)
    datastore_list = DatastoreSerializer(source="datastores", many=True, read_only=True)
    resources = CloudResourceSerializer(many=True, read_only=True)
    estimate = serializers.SerializerMethodField(
        help_text="what its hosts' droplets cost at DigitalOcean's prices (null: unknown now)"
    )
    inputs = serializers.DictField(
        source="input_values",
        read_only=True,
        help_text="a provision made from a template: each input's value ({} otherwise)",
    )

    class Meta(ProvisionSerializer.Meta):
        fields = ProvisionSerializer.Meta.fields + [
            "description",
            "inputs",
            "host_list",
            "network_list",
            "datastore_list",
            "resources",
            "drift",
            "drift_checked_at",
            "estimate",
        ]

    @extend_schema_field(EstimateSerializer(allow_null=True))
    def get_estimate(self, provision) -> dict | None:
        # Answers wait on DigitalOcean only where asked to (create, add host): elsewhere the
        # last prices it gave.
        ask = self.context.get("ask_prices", False)
        found = prices.estimate(provision.provider, provision.size, provision.host_count, ask=ask)
        return found.as_dict() if found else None


class ProvisionCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    provider = serializers.CharField(help_text="provider ID or name")
    hosts = serializers.IntegerField(default=1)
    size = serializers.CharField(required=False, allow_blank=True)
    image = serializers.CharField(required=False, allow_blank=True)
    placement_policy = serializers.CharField(
        required=False, allow_blank=True, help_text="packing, striping (default) or load-aware"
    )
    group = group_field()


class ProvisionUpdateSerializer(serializers.Serializer):
    """What PATCH may change: the placement policy of the next VMs."""

    placement_policy = serializers.CharField(help_text="packing, striping or load-aware")


class ProvisionTemplateSerializer(serializers.Serializer):
    """A provision template (README, examples/provision.yaml) and what fills its inputs."""

    template = serializers.CharField(trim_whitespace=False, help_text="the template's YAML text")
    provider = serializers.CharField(
        required=False, allow_blank=True, help_text="provider ID or name, over the template's"
    )
    user_inputs = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        default=dict,
        help_text="input values by name, over the defaults",
    )
    group = group_field()


class ResolvedTemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    provider = serializers.CharField()
    hosts = serializers.IntegerField()
    size = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    networks = serializers.ListField(child=serializers.DictField())
    placement = serializers.CharField(allow_null=True)
    inputs = serializers.DictField()


class LogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogLine
        fields = ["id", "job", "at", "level", "message"]
