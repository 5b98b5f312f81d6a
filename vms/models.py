from django.conf import settings
from django.db import models
from django.urls import reverse

from core.models import Event
from core.tenancy import OwnedQuerySet
from jobs.base import LeasedJob
from vms.choices import PORT_BASE, PORTS_PER_NIC, VM_COLOURS, RecoveryPolicy, VMState


class PrivateQuerySet(OwnedQuerySet):
    shared_visible = False
    grouped = True


class Image(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="images"
    )
    group = models.ForeignKey(
        "core.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="images"
    )
    name = models.CharField(max_length=128)
    datastore = models.ForeignKey(
        "provisions.Datastore", on_delete=models.PROTECT, related_name="images"
    )
    app = models.ForeignKey(
        "marketplace.MarketplaceApp",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="images",
    )
    url = models.URLField(max_length=500)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    os_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PrivateQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="image_name_unique")]

    def __str__(self):
        return self.name


class VMTemplate(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vm_templates"
    )
    group = models.ForeignKey(
        "core.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="templates"
    )
    name = models.CharField(max_length=128)
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="templates")
    cpu = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    memory_mb = models.PositiveIntegerField(default=256)
    networks = models.ManyToManyField("provisions.Network", blank=True, related_name="templates")
    context = models.JSONField(default=dict, blank=True)
    # OpenNebula's LXC_UNPRIVILEGED: yes (the default) runs the container with a user-namespace
    # id map; no asks for a privileged one, which only an operator may set (services.py).
    lxc_unprivileged = models.BooleanField(
        "LXC_UNPRIVILEGED",
        default=True,
        help_text="no: a privileged container (root in it is root on the host); operators only",
    )
    cpu_quota = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="at most this many CPUs (cpu.max); empty: only the weight from CPU",
    )
    pids_max = models.PositiveIntegerField(
        null=True, blank=True, help_text="processes in the container (pids.max); empty: default"
    )
    swap_mb = models.PositiveIntegerField(
        null=True, blank=True, help_text="swap on top of the memory (MB); empty: default"
    )
    # OpenNebula's DISK = [ SIZE = ... ]: what the VM may write, its writable layer's filesystem.
    disk_mb = models.PositiveIntegerField(
        "disk (MB)",
        null=True,
        blank=True,
        help_text="the VM's disk: what it may write (MB); empty: the default (VM_DISK_MB_DEFAULT)",
    )
    # What becomes of its VMs when their host is lost (each VM may say otherwise).
    recovery_policy = models.CharField(
        max_length=8, choices=RecoveryPolicy.choices, default=RecoveryPolicy.RESTORE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PrivateQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="template_name_unique")
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vms:instantiate", args=[self.pk])


class VM(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vms"
    )
    group = models.ForeignKey(
        "core.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="vms"
    )
    name = models.CharField(max_length=64)
    template = models.ForeignKey(
        VMTemplate, null=True, on_delete=models.SET_NULL, related_name="vms"
    )
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="vms")
    host = models.ForeignKey(
        "provisions.Host", null=True, blank=True, on_delete=models.PROTECT, related_name="vms"
    )
    state = models.CharField(max_length=16, choices=VMState.choices, default=VMState.PENDING)
    cpu = models.DecimalField(max_digits=5, decimal_places=2)
    memory_mb = models.PositiveIntegerField()
    # Its disk's size; empty for a container deployed before disks had one (unbounded).
    disk_mb = models.PositiveIntegerField(null=True, blank=True)
    # The VM's own CPU quota (cpu.max), copied from its template when it is made, as its CPU
    # and memory are, so that a resize changes this VM and not its template's other VMs.
    cpu_quota = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="at most this many CPUs (cpu.max); empty: only the weight from CPU",
    )
    # Its own recovery policy; empty: its template's.
    recovery_policy = models.CharField(
        max_length=8, choices=RecoveryPolicy.choices, blank=True, default=""
    )
    failure_reason = models.TextField(blank=True)
    # Why a PENDING VM has no host yet ("no host with 2048 MiB memory free: ..."); empty once
    # placed (vms/placement.py).
    placement_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrivateQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=~models.Q(state=VMState.DONE),
                name="vm_name_unique_while_alive",
            )
        ]
        indexes = [models.Index(fields=["owner", "state"]), models.Index(fields=["host", "state"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vms:detail", args=[self.pk])

    @property
    def state_colour(self):
        return VM_COLOURS.get(self.state, "grey")

    def recovery(self) -> str:
        """The recovery policy the VM follows: its own, else its template's, else restore."""
        if self.recovery_policy:
            return self.recovery_policy
        if self.template is not None:
            return self.template.recovery_policy
        return RecoveryPolicy.RESTORE

    @property
    def container_name(self) -> str:
        # Derived from the ID, never from the user's name: it goes into shell commands.
        return f"one-{self.pk}"


class NIC(models.Model):
    vm = models.ForeignKey(VM, on_delete=models.CASCADE, related_name="nics")
    # NULL once a private network is deleted: only VMs that already ended can have such a NIC
    # (provisions.services.delete_network refuses while a live VM uses the network).
    network = models.ForeignKey(
        "provisions.Network", null=True, on_delete=models.SET_NULL, related_name="nics"
    )
    index = models.PositiveSmallIntegerField()
    ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    # Private NICs get a fixed MAC (derived from their lease), so EVPN routes name it.
    mac = models.CharField(max_length=17, blank=True)

    class Meta:
        ordering = ["vm", "index"]
        constraints = [models.UniqueConstraint(fields=["vm", "index"], name="nic_index_unique")]

    def __str__(self):
        return f"{self.vm} NIC{self.index}"


class PortBlock(models.Model):
    """A block of 100 host ports for one public NIC. The unique (host, block) constraint, not
    luck, is what keeps concurrent instantiations from colliding."""

    host = models.ForeignKey(
        "provisions.Host", on_delete=models.CASCADE, related_name="port_blocks"
    )
    block = models.PositiveIntegerField()
    nic = models.OneToOneField(NIC, on_delete=models.CASCADE, related_name="port_block")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "block"], name="port_block_unique")]

    def __str__(self):
        return self.external_range

    @property
    def first_port(self) -> int:
        return PORT_BASE + self.block * PORTS_PER_NIC

    @property
    def external_range(self) -> str:
        return f"{self.first_port}:{self.first_port + PORTS_PER_NIC - 1}"

    @property
    def internal_range(self) -> str:
        return f"1-{PORTS_PER_NIC}/{self.first_port}"

    def external_port(self, internal: int) -> int:
        if not 1 <= internal <= PORTS_PER_NIC:
            raise ValueError(f"port {internal} is outside the forwarded range 1-{PORTS_PER_NIC}")
        return self.first_port - 1 + internal


class Lease(models.Model):
    """An address of a private network held by one NIC. The unique (network, ip) constraint,
    not luck, is what keeps concurrent instantiations from getting the same address."""

    network = models.ForeignKey(
        "provisions.Network", on_delete=models.CASCADE, related_name="leases"
    )
    ip = models.GenericIPAddressField(protocol="IPv4")
    nic = models.OneToOneField(NIC, on_delete=models.CASCADE, related_name="lease")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "id"]
        constraints = [models.UniqueConstraint(fields=["network", "ip"], name="lease_ip_unique")]

    def __str__(self):
        return f"{self.network} {self.ip}"


class VMLogLine(models.Model):
    """What happened to a VM (placement, image, container, ports), saved as it happens."""

    vm = models.ForeignKey(VM, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.message[:80]


class VMEvent(Event):
    """A VM's state changes: who (a user, a job, monitoring) and why."""

    vm = models.ForeignKey(VM, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass

    def __str__(self):
        return f"{self.vm}: {self.from_state} -> {self.to_state} ({self.source})"


class VMJob(LeasedJob):
    """One background run on a VM (deploy, poweroff, resume, reboot, terminate) under a lease
    (jobs.leases), so that a job lost with its worker is taken over and run again; the
    host scripts are idempotent, so a deploy resumed half-way converges."""

    vm = models.ForeignKey(VM, on_delete=models.CASCADE, related_name="jobs")
    action = models.CharField(max_length=16)
    # What the action works on beyond the VM (a snapshot's ID), so a job taken over by another
    # worker does the same thing.
    params = models.JSONField(default=dict, blank=True)

    class Meta(LeasedJob.Meta):
        pass

    def __str__(self):
        return f"{self.action} of {self.vm_id} #{self.pk}"

    def note(self, message: str, level: str = "info") -> None:
        VMLogLine.objects.create(vm_id=self.vm_id, level=level, message=f"job {self.pk}: {message}")


class VMSnapshot(models.Model):
    """A copy of a VM's disk at one moment (OpenNebula's system snapshot), kept on its host
    beside the disk (vms/hostscripts/vm-snapshot.sh). CREATING until its job has the whole copy
    in place, so a half-written snapshot is never listed as one to revert to."""

    class State(models.TextChoices):
        CREATING = "CREATING"
        READY = "READY"
        DELETING = "DELETING"

    vm = models.ForeignKey(VM, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATING)
    # The disk's size when taken: a revert gives the VM that size back.
    disk_mb = models.PositiveIntegerField()
    size_bytes = models.BigIntegerField(null=True, blank=True)  # what it takes on the host
    freeze_ms = models.PositiveIntegerField(null=True, blank=True)  # the VM frozen this long
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vm", "id"]
        constraints = [models.UniqueConstraint(fields=["vm", "name"], name="snapshot_name_unique")]

    def __str__(self):
        return f"{self.vm} snapshot {self.name}"
