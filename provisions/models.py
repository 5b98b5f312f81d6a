import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse

from core import crypto
from core.models import Event
from core.tenancy import OwnedQuerySet
from jobs.base import LeasedJob
from jobs.states import JobState
from provisions.choices import (
    HOST_COLOURS,
    PROVISION_COLOURS,
    DatastoreKind,
    HostProblem,
    HostState,
    JobKind,
    NetworkKind,
    PlacementPolicy,
    ProvisionState,
    ResourceKind,
    ResourceState,
)

# Provision names end up in droplet hostnames, DigitalOcean names and shell commands on hosts:
# letters, digits and dashes only, so no quoting mistake can ever turn one into a command.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,39}$"
name_validator = RegexValidator(
    NAME_PATTERN,
    "use 1-40 letters, digits and dashes, starting with a letter (it becomes host names)",
)


def new_tag() -> str:
    return f"edge-portal-{secrets.token_hex(6)}"


class ProvisionQuerySet(OwnedQuerySet):
    shared_visible = False
    grouped = True


class Provision(models.Model):
    """One edge cluster on one provider: hosts (droplets), a VPC, a firewall, an SSH key."""

    name = models.CharField(max_length=40, validators=[name_validator])
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="provisions"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provisions"
    )
    group = models.ForeignKey(
        "core.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="provisions"
    )
    state = models.CharField(
        max_length=16, choices=ProvisionState.choices, default=ProvisionState.PENDING
    )
    host_count = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(64)]
    )
    size = models.CharField(max_length=64)
    image = models.CharField(max_length=64)
    # A provision made from a provision template keeps it, so `oneprovision show --yaml` can
    # write it back (provisions.template_format.dump): its description, its definition as
    # given (`name`, `inputs` -- the provider's inputs it used included --, `hosts` and
    # `networks`, references to inputs kept) and the value each input had.
    description = models.TextField(blank=True)
    template = models.JSONField(default=dict, blank=True)
    input_values = models.JSONField(default=dict, blank=True)
    # Every DigitalOcean object of this provision carries this tag: list and delete by it.
    tag = models.CharField(max_length=64, unique=True, default=new_tag, editable=False)
    # The provision's own key pair: its public half goes to DigitalOcean for root logins.
    ssh_public_key = models.TextField(blank=True)
    ssh_private_key_encrypted = models.TextField(blank=True, editable=False)
    # The hosts' SSH host key is made here and handed to the droplets in their user data, so the
    # very first connection is already verified against it (no trust on first use). One key
    # for the batch, because DigitalOcean creates a batch of droplets with one user data.
    host_key_public = models.TextField(blank=True)
    host_key_private_encrypted = models.TextField(blank=True, editable=False)
    host_key_fingerprint = models.CharField(max_length=80, blank=True)
    # How instantiate picks among the hosts with room (vms/placement.py); changeable later.
    placement_policy = models.CharField(
        max_length=16, choices=PlacementPolicy.choices, default=PlacementPolicy.STRIPING
    )
    failed_step = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    # What the last drift check (monitoring.drift) found in DigitalOcean that the ledger does
    # not: one line each ("droplet dc-host-1 deleted outside the portal"); [] when none.
    drift = models.JSONField(default=list, blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProvisionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=~models.Q(state=ProvisionState.DONE),
                name="provision_name_unique_while_alive",
            )
        ]
        indexes = [models.Index(fields=["owner", "state"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("provisions:detail", args=[self.pk])

    @property
    def state_colour(self) -> str:
        return PROVISION_COLOURS.get(self.state, "grey")

    def private_key(self) -> str:
        return crypto.decrypt(self.ssh_private_key_encrypted)

    def host_key_private(self) -> str:
        return crypto.decrypt(self.host_key_private_encrypted)


class ProvisionEvent(Event):
    """A provision's state changes, shown as its history."""

    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass

    def __str__(self):
        return f"{self.from_state or '-'} -> {self.to_state}"


class Cluster(models.Model):
    provision = models.OneToOneField(Provision, on_delete=models.CASCADE, related_name="cluster")
    name = models.CharField(max_length=64)

    def __str__(self):
        return self.name


class Host(models.Model):
    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="hosts")
    name = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=HostState.choices, default=HostState.INIT)
    droplet_id = models.BigIntegerField(null=True, blank=True)
    public_ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    private_ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    host_key_fingerprint = models.CharField(max_length=80, blank=True)
    cpu = models.PositiveIntegerField(null=True, blank=True)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    # The filesystem VMs' disks live on (their sparse files), as host set-up reported it.
    disk_mb = models.PositiveIntegerField(null=True, blank=True)
    hostconfig_version = models.CharField(max_length=16, blank=True)
    # The kernel's boot id when the host was last configured or probed: a new one means the
    # droplet rebooted, and what lives only in memory (bridge, forwards, containers) is gone.
    boot_id = models.CharField(max_length=36, blank=True)
    last_error = models.TextField(blank=True)
    # What monitoring found: why the host is in ERROR (if it put it there), how many cycles in
    # a row SSH failed, and when it last answered.
    problem = models.CharField(
        max_length=16, choices=HostProblem.choices, default=HostProblem.NONE, blank=True
    )
    failed_probes = models.PositiveSmallIntegerField(default=0)
    # Monitoring cycles in a row that found the host ERROR (0 once it is not): after
    # HOST_RECOVERY_CYCLES of them its droplet is fenced and its VMs recovered elsewhere.
    error_cycles = models.PositiveIntegerField(default=0)
    fenced_at = models.DateTimeField(null=True, blank=True)
    monitored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provision", "name"], name="host_name_unique")
        ]

    def __str__(self):
        return self.name

    @property
    def state_colour(self) -> str:
        return HOST_COLOURS.get(self.state, "grey")


class HostEvent(Event):
    """A host's state changes, monitoring's included."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass

    def __str__(self):
        return f"{self.host}: {self.from_state} -> {self.to_state} ({self.source})"


class Datastore(models.Model):
    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="datastores")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=DatastoreKind.choices)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name


class Network(models.Model):
    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="networks")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=NetworkKind.choices)
    # Private networks: the CIDR their NICs lease addresses from (provisions.networks checks it).
    address_range = models.CharField(max_length=32, blank=True)
    # Private networks: the VXLAN network identifier, one VXLAN device + bridge per host.
    vni = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provision", "name"], name="network_name_unique"),
            models.UniqueConstraint(fields=["provision", "vni"], name="network_vni_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def bridge(self) -> str:
        return f"onevx{self.vni}" if self.vni else ""

    @property
    def vxlan_device(self) -> str:
        return f"vxlan{self.vni}" if self.vni else ""


class CloudResource(models.Model):
    """The ledger: every DigitalOcean object a provision creates, written before it is created."""

    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="resources")
    kind = models.CharField(max_length=16, choices=ResourceKind.choices)
    name = models.CharField(max_length=128)
    cloud_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(
        max_length=8, choices=ResourceState.choices, default=ResourceState.PLANNED
    )
    # False for objects the provision uses but must never delete (a region's default VPC).
    owned = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)
    planned_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provision", "kind", "name"], name="resource_unique")
        ]

    def __str__(self):
        return f"{self.kind} {self.name}"


class MeteredDroplet(models.Model):
    """One droplet's billable life: DigitalOcean bills from its creation to its deletion. Kept
    per droplet ID (a host whose droplet was made again has two), prices as they were when it
    was made (None when DigitalOcean could not say: today's price is used then)."""

    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="meters")
    host = models.ForeignKey(
        "Host", null=True, blank=True, on_delete=models.SET_NULL, related_name="meters"
    )
    host_name = models.CharField(max_length=64)
    droplet_id = models.CharField(max_length=32, unique=True)
    size = models.CharField(max_length=64)
    price_hourly = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    price_monthly = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ended_at"], name="meter_ended")]

    def __str__(self):
        return f"droplet {self.droplet_id} ({self.host_name}, {self.size})"


class Job(LeasedJob):
    """One background run (deploy, delete...) with its progress and log, shown live."""

    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    step = models.CharField(max_length=32, blank=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    steps_total = models.PositiveSmallIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta(LeasedJob.Meta):
        pass

    def __str__(self):
        return f"{self.kind} #{self.pk}"

    @property
    def percent(self) -> int:
        if not self.steps_total:
            return 0
        return min(100, round(100 * self.steps_done / self.steps_total))

    def note(self, message: str, level: str = "info") -> None:
        JobLogLine.objects.create(job_id=self.pk, level=level, message=message)


class JobLogLine(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="lines")
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.message[:80]


__all__ = [
    "CloudResource",
    "Cluster",
    "Datastore",
    "Host",
    "HostEvent",
    "HostProblem",
    "HostState",
    "Job",
    "JobKind",
    "JobLogLine",
    "JobState",
    "MeteredDroplet",
    "Network",
    "NetworkKind",
    "Provision",
    "ProvisionEvent",
    "ProvisionState",
    "ResourceKind",
    "ResourceState",
]

# Security groups live in their own module of this app; imported here so Django registers them.
from provisions.secgroups.models import SecurityGroup  # noqa: E402

__all__ += ["SecurityGroup"]
