"""One monitoring cycle: every host probed once (in parallel, one SSH connection each), what
was found applied, samples stored, a Repair started for hosts that rebooted, old samples
dropped, then the drift check per token."""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import paramiko
from django.conf import settings
from django.utils import timezone

from hostexec.ssh import SSHError
from monitoring import cyclehooks, drift, lost, observe, reboot
from monitoring.models import HostSample, VMSample
from monitoring.probe import ProbeError, probe
from provisions.choices import HostProblem, HostState, ProvisionState
from provisions.models import Host
from provisions.progress import in_parallel
from vms import placement
from vms.choices import VMState
from vms.models import VM

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    hosts: int = 0
    answered: int = 0
    samples: int = 0
    repairs: int = 0  # Repairs started for hosts that rebooted
    placed: int = 0  # waiting VMs placed
    fenced: int = 0  # lost hosts whose fencing started
    pruned: int = 0
    seconds: float = 0.0
    tokens: list = field(default_factory=list)  # drift.TokenReport per token

    @property
    def api_calls(self) -> int:
        return sum(t.api_calls for t in self.tokens)


def monitored_hosts():
    """Configured hosts of deployed clusters; not those whose droplet is gone (nothing to
    reach until a Repair) nor those a job is setting up (CONFIGURING, REMOVING)."""
    return (
        Host.objects.filter(
            state__in=[HostState.RUNNING, HostState.ERROR],
            provision__state__in=[ProvisionState.RUNNING, ProvisionState.ERROR],
        )
        .exclude(public_ip=None)
        .exclude(hostconfig_version="")
        .exclude(problem=HostProblem.DROPLET_GONE)
        .select_related("provision")
    )


def _probe(host: Host):
    try:
        return probe(host)
    except (SSHError, ProbeError, paramiko.SSHException, OSError, EOFError) as exc:
        return str(exc) or exc.__class__.__name__


def _latest(model, key: str, ids, since) -> dict:
    """The newest sample per object since `since`, in one query."""
    latest = {}
    rows = model.objects.filter(**{f"{key}__in": ids, "at__gte": since}).order_by("at")
    for row in rows:
        latest[getattr(row, f"{key}_id")] = row
    return latest


def run_cycle(with_drift: bool = True) -> CycleReport:
    started = time.monotonic()
    report = CycleReport()
    hosts = list(monitored_hosts())
    report.hosts = len(hosts)
    # What the hosts' VMs were *before* the probes: every change is conditional on it.
    vms: dict[int, list] = {h.pk: [] for h in hosts}
    for vm in VM.objects.filter(host__in=hosts).exclude(state=VMState.DONE):
        vms[vm.host_id].append(vm)
    now = timezone.now()
    since = now - timedelta(seconds=3 * settings.MONITOR_INTERVAL)
    last_hosts = _latest(HostSample, "host", [h.pk for h in hosts], since)
    last_vms = _latest(VMSample, "vm", [vm.pk for group in vms.values() for vm in group], since)

    samples = []
    for host, result in zip(hosts, in_parallel(_probe, hosts), strict=True):
        if isinstance(result, str):
            observe.unanswered(host, vms[host.pk], result)
            continue
        report.answered += 1
        samples += observe.answered(
            host, vms[host.pk], result, timezone.now(), last_hosts.get(host.pk), last_vms
        )
    HostSample.objects.bulk_create([s for s in samples if isinstance(s, HostSample)])
    VMSample.objects.bulk_create([s for s in samples if isinstance(s, VMSample)])
    report.samples = len(samples)
    report.repairs = len(reboot.restore(hosts))
    # The backstop for VMs waiting for room: whatever freed it, they are tried again here.
    report.placed = placement.place_everywhere()
    report.pruned = prune()
    if with_drift:
        report.tokens = drift.check_all()
    lost.count_error_cycles()
    report.fenced = len(lost.fence_lost_hosts())
    for after in cyclehooks.cycle_ended.callables:
        try:
            after(report)
        except Exception:  # one app's failure must not stop monitoring
            log.exception("after the monitoring cycle: %s failed", after.__qualname__)
    report.seconds = time.monotonic() - started
    log.info(
        "monitoring cycle: %s/%s hosts answered, %s samples, %s DigitalOcean calls, %.2f s",
        report.answered,
        report.hosts,
        report.samples,
        report.api_calls,
        report.seconds,
    )
    return report


def prune(now=None) -> int:
    """Drop samples past the retention (MONITOR_RETENTION_HOURS): the tables stay bounded."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MONITOR_RETENTION_HOURS)
    removed, _ = HostSample.objects.filter(at__lt=cutoff).delete()
    removed_vms, _ = VMSample.objects.filter(at__lt=cutoff).delete()
    return removed + removed_vms
