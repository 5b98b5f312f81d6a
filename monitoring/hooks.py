"""monitoring's side of vms' hooks: the hosts' load, read from their latest samples, for the
load-aware placement policy (vms/placement.py). Registered in MonitoringConfig.ready()."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from monitoring.models import HostSample
from vms import placement


def host_load(hosts) -> dict[int, float]:
    """Each host's CPU load in % of all its CPUs, from its newest sample of the last three
    cycles (older ones say nothing about now): the sample's CPU figure, or its load average
    per CPU when the sample has none (a host's first). One query."""
    cpus = {host.pk: host.cpu or 1 for host in hosts}
    since = timezone.now() - timedelta(seconds=3 * settings.MONITOR_INTERVAL)
    rows = (
        HostSample.objects.filter(host__in=list(cpus), at__gte=since)
        .order_by("at")
        .values_list("host", "cpu_percent", "load1")
    )
    loads = {}
    for host, cpu_percent, load1 in rows:  # oldest first: the newest one stays
        loads[host] = cpu_percent if cpu_percent is not None else 100.0 * load1 / cpus[host]
    return loads


def register() -> None:
    placement.host_load.register(host_load)
