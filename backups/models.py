"""Backup stores (S3-compatible object storage: DigitalOcean Spaces) and the VMs' backups in
them (restic snapshots, one repository per VM)."""

from django.conf import settings
from django.db import models

from backups.choices import BackupState
from core import crypto
from core.tenancy import OwnedQuerySet


class StoreQuerySet(OwnedQuerySet):
    shared_visible = False


class BackupStore(models.Model):
    """Where backups go: a bucket in an S3-compatible object store. A store bound to a provider
    takes the backups of the VMs on that provider's clusters; an owner's unbound store takes
    those of the owner's other VMs. The secret key and restic's repository password are kept
    encrypted (core.crypto) and never shown again."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="backup_stores"
    )
    name = models.CharField(max_length=64)
    provider = models.OneToOneField(
        "providers.Provider",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="backup_store",
    )
    endpoint = models.URLField(max_length=255)
    region = models.CharField(max_length=32)
    bucket = models.CharField(max_length=63)
    access_key = models.CharField(max_length=128)
    secret_encrypted = models.TextField(editable=False)
    secret_hint = models.CharField(max_length=8, editable=False)
    # restic's repository password, made by the portal: whoever has it and the key can read
    # the backups, so it never leaves the portal but for the host running a backup or restore.
    password_encrypted = models.TextField(editable=False)
    checked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StoreQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="backup_store_name_unique"),
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(provider__isnull=True),
                name="one_default_backup_store_per_owner",
            ),
        ]

    def __str__(self):
        return self.name

    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted)

    def repository(self, key: str) -> str:
        """restic's location of one VM's repository in this store (`key`: repository_key)."""
        return f"s3:{self.endpoint.rstrip('/')}/{self.bucket}/edge-portal/{key}"


def repository_key(vm) -> str:
    """A VM's repository in a store: its ID and creation time, so two portals sharing a bucket,
    or a database restored from an old dump, never write into one VM's repository twice."""
    return f"vm-{vm.pk}-{int(vm.created_at.timestamp())}"


class VMBackup(models.Model):
    """One backup of a VM: a restic snapshot of its disk and its description (vm.json), taken
    by a VM job (backups/runs.py)."""

    vm = models.ForeignKey("vms.VM", on_delete=models.CASCADE, related_name="backups")
    # None only for a scheduled backup that could not be taken (no store): FAILED, saying why.
    store = models.ForeignKey(
        BackupStore, null=True, blank=True, on_delete=models.PROTECT, related_name="backups"
    )
    # The repository the snapshot is in (the VM's, in the store): kept as written, so a VM
    # restored as another still finds the backups it came from.
    repository_key = models.CharField(max_length=64, blank=True)
    state = models.CharField(
        max_length=10, choices=BackupState.choices, default=BackupState.CREATING
    )
    snapshot_id = models.CharField(max_length=64, blank=True)
    scheduled = models.BooleanField(default=False)
    # The VM as it was: template, image, sizes, NICs, port block, security groups.
    manifest = models.JSONField(default=dict)
    disk_mb = models.PositiveIntegerField(null=True, blank=True)
    disk_bytes = models.BigIntegerField(null=True, blank=True)  # what the disk held
    uploaded_bytes = models.BigIntegerField(null=True, blank=True)  # new data in the store
    freeze_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["vm", "-id"]

    def __str__(self):
        return f"backup {self.pk} of {self.vm}"

    @property
    def short_id(self) -> str:
        return self.snapshot_id[:8]


class PendingRestore(models.Model):
    """A VM whose next deploy takes its disk from a backup (a restore as a new VM, a recovery
    onto another host): the deploy fetches it first (backups/runs.py), and the row goes once
    the VM runs."""

    vm = models.OneToOneField("vms.VM", on_delete=models.CASCADE, related_name="pending_restore")
    backup = models.ForeignKey(VMBackup, on_delete=models.CASCADE, related_name="restores")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.vm} from {self.backup}"


class BackupSchedule(models.Model):
    """When a VM is backed up by itself, and how many of its backups are kept. A VM's own
    schedule, else its template's (every VM made from it). Times are UTC."""

    class Frequency(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"
        MONTHLY = "monthly"

    vm = models.OneToOneField(
        "vms.VM", null=True, blank=True, on_delete=models.CASCADE, related_name="backup_schedule"
    )
    template = models.OneToOneField(
        "vms.VMTemplate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="backup_schedule",
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    at = models.TimeField()
    weekday = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 Monday .. 6 Sunday
    monthday = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..28
    # restic's forget policy after each scheduled backup (0: that rule keeps none).
    keep_daily = models.PositiveSmallIntegerField(default=0)
    keep_weekly = models.PositiveSmallIntegerField(default=0)
    keep_monthly = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vm__isnull=False, template__isnull=True)
                | models.Q(vm__isnull=True, template__isnull=False),
                name="backup_schedule_of_vm_or_template",
            )
        ]

    def __str__(self):
        return f"{self.describe()} of {self.vm or self.template}"

    def describe(self) -> str:
        at = self.at.strftime("%H:%M")
        if self.frequency == self.Frequency.WEEKLY:
            return f"weekly on {WEEKDAYS[self.weekday]} at {at} UTC"
        if self.frequency == self.Frequency.MONTHLY:
            return f"monthly on day {self.monthday} at {at} UTC"
        return f"daily at {at} UTC"

    def keep_options(self) -> str:
        """restic's forget options for the schedule's retention ('' when it keeps all)."""
        rules = (
            ("daily", self.keep_daily),
            ("weekly", self.keep_weekly),
            ("monthly", self.keep_monthly),
        )
        return " ".join(f"--keep-{rule} {n}" for rule, n in rules if n)


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
