"""Read helpers for graphs and `onevm show`: a host's or VM's samples as parallel lists (the
shape uPlot draws), one indexed query each. Pure reads: nothing here changes a row."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from monitoring.models import HostSample, VMSample

MIN_HOURS = 1
MAX_HOURS = 24  # retention (MONITOR_RETENTION_HOURS) keeps about this much anyway


def parse_hours(raw) -> int:
    """`?hours=` as a whole number of hours from MIN_HOURS to MAX_HOURS; ValueError with a
    message fit for the user otherwise. Empty means the default, 1."""
    if raw is None or str(raw).strip() == "":
        return MIN_HOURS
    text = str(raw).strip()
    if not text.isdigit() or not MIN_HOURS <= int(text) <= MAX_HOURS:
        raise ValueError(
            f"hours must be a whole number from {MIN_HOURS} to {MAX_HOURS}, not {text!r}"
        )
    return int(text)


def _since(hours: int):
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise ValueError(f"hours must be a whole number, not {hours!r}")
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be from {MIN_HOURS} to {MAX_HOURS}, not {hours}")
    return timezone.now() - timedelta(hours=hours)


def _epoch(at) -> int:
    return int(at.timestamp())


def _rate(previous, current, seconds: float) -> float | None:
    """Bytes per second between two readings of a cumulative counter; None when there is no
    previous reading or the counter went backwards (the container restarted: its counters
    start again from zero, and a negative rate would be a lie)."""
    if previous is None or seconds <= 0 or current < previous:
        return None
    return round((current - previous) / seconds, 1)


def vm_series(vm, hours: int = 1) -> dict:
    """CPU % (of one core), memory, network rates and disk use of the last `hours` hours."""
    rows = (
        VMSample.objects.filter(vm=vm, at__gte=_since(hours))
        .order_by("at")
        .values_list(
            "at", "cpu_percent", "memory_mb", "net_rx_bytes", "net_tx_bytes", "disk_used_mb"
        )
    )
    series = {
        "interval": settings.MONITOR_INTERVAL,
        "at": [],
        "cpu_percent": [],
        "memory_mb": [],
        "net_rx_bps": [],
        "net_tx_bps": [],
        "disk_used_mb": [],
        "disk_mb": vm.disk_mb,
    }
    before = None
    for at, cpu, memory, rx, tx, disk in rows:
        seconds = (at - before[0]).total_seconds() if before else 0
        series["at"].append(_epoch(at))
        series["cpu_percent"].append(None if cpu is None else round(cpu, 2))
        series["memory_mb"].append(round(memory, 1))
        series["net_rx_bps"].append(_rate(before and before[1], rx, seconds))
        series["net_tx_bps"].append(_rate(before and before[2], tx, seconds))
        series["disk_used_mb"].append(None if disk is None else round(disk, 1))
        before = (at, rx, tx)
    return series


def host_series(host, hours: int = 1) -> dict:
    """CPU %, memory, load, disk and running VMs of the last `hours` hours."""
    fields = [
        "cpu_percent",
        "memory_used_mb",
        "memory_total_mb",
        "load1",
        "disk_used_mb",
        "disk_total_mb",
        "vms_running",
    ]
    rows = (
        HostSample.objects.filter(host=host, at__gte=_since(hours))
        .order_by("at")
        .values_list("at", *fields)
    )
    series = {"interval": settings.MONITOR_INTERVAL, "at": [], **{name: [] for name in fields}}
    for at, *values in rows:
        series["at"].append(_epoch(at))
        for name, value in zip(fields, values, strict=True):
            series[name].append(value)
    return series


def latest_vm(vm) -> dict | None:
    """The VM's newest sample with its cumulative network counters (what OpenNebula shows as
    NETRX/NETTX) and the rates since the one before; None when monitoring never saw it."""
    rows = list(
        VMSample.objects.filter(vm=vm)
        .order_by("-at")
        .values("at", "cpu_percent", "memory_mb", "net_rx_bytes", "net_tx_bytes", "disk_used_mb")[
            :2
        ]
    )
    if not rows:
        return None
    last = rows[0]
    previous = rows[1] if len(rows) > 1 else {}
    seconds = (last["at"] - previous["at"]).total_seconds() if previous else 0
    return {
        "at": _epoch(last["at"]),
        "cpu_percent": last["cpu_percent"],
        "memory_mb": last["memory_mb"],
        "net_rx_bytes": last["net_rx_bytes"],
        "net_tx_bytes": last["net_tx_bytes"],
        "disk_used_mb": last["disk_used_mb"],
        "net_rx_bps": _rate(previous.get("net_rx_bytes"), last["net_rx_bytes"], seconds),
        "net_tx_bps": _rate(previous.get("net_tx_bytes"), last["net_tx_bytes"], seconds),
    }
