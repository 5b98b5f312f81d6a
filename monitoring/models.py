"""Usage samples of hosts and VMs, kept for settings.MONITOR_RETENTION (then dropped), and the
lease that lets exactly one worker run the monitoring cycle at a time."""

from django.db import models


class HostSample(models.Model):
    host = models.ForeignKey("provisions.Host", on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    # /proc/stat counters, kept so the next sample's CPU % is the busy share in between.
    cpu_total_ticks = models.BigIntegerField()
    cpu_idle_ticks = models.BigIntegerField()
    cpu_percent = models.FloatField(null=True, blank=True)
    load1 = models.FloatField()
    memory_total_mb = models.PositiveIntegerField()
    memory_used_mb = models.PositiveIntegerField()
    disk_total_mb = models.PositiveIntegerField()
    disk_used_mb = models.PositiveIntegerField()
    vms_running = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["host", "at"]
        indexes = [
            models.Index(fields=["host", "at"]),
            models.Index(fields=["at"]),  # retention deletes by age
        ]

    def __str__(self):
        return f"{self.host} at {self.at:%Y-%m-%d %H:%M:%S}"


class VMSample(models.Model):
    vm = models.ForeignKey("vms.VM", on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    # Cumulative counters, as OpenNebula reports NETRX/NETTX; rates come from consecutive rows.
    cpu_seconds = models.FloatField()
    cpu_percent = models.FloatField(null=True, blank=True)
    memory_mb = models.FloatField()
    net_rx_bytes = models.BigIntegerField()
    net_tx_bytes = models.BigIntegerField()
    # What the VM's disk holds; empty for a VM without a bounded disk.
    disk_used_mb = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["vm", "at"]
        indexes = [models.Index(fields=["vm", "at"]), models.Index(fields=["at"])]

    def __str__(self):
        return f"{self.vm} at {self.at:%Y-%m-%d %H:%M:%S}"


class WorkerLease(models.Model):
    """A named lease (the monitor, held by one worker's supervisor): whoever holds an unexpired
    one does the work; taken with a conditional UPDATE, so two workers never both hold it."""

    name = models.CharField(max_length=32, unique=True)
    owner = models.CharField(max_length=80, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.name} ({self.owner or 'free'})"


class WorkerHeartbeat(models.Model):
    """A job worker (`manage.py worker`) alive: its supervisor loop writes `seen_at` every
    tick. /readyz wants one seen recently; /metrics counts them."""

    owner = models.CharField(max_length=80, unique=True)  # host:pid:random, as job leases
    hostname = models.CharField(max_length=64)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self):
        return f"{self.owner} seen {self.seen_at:%H:%M:%S}"
