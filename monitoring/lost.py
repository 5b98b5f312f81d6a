"""Lost hosts: a host monitoring has found ERROR for HOST_RECOVERY_CYCLES cycles in a row is
fenced (provisions/runs/fence.py), and its VMs recovered elsewhere once that succeeded. A host
that answers again before that is left alone (a flapping host does nothing), and so is one
whose VMs all have the recovery policy `none` (fencing it would only stop them). A fencing
that failed is tried again, less and less often (BACKOFF_MAX_CYCLES); its VMs say why they
still wait.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F

from jobs.states import JobState
from provisions.choices import HostProblem, HostState, JobKind, ProvisionState
from provisions.models import Host, HostEvent, Job
from provisions.services import hosts as host_services
from vms.choices import RecoveryPolicy, VMState
from vms.jobstart import vm_log
from vms.models import VM

log = logging.getLogger(__name__)

# A fencing that failed is tried again 1, 2, 4, 8, 16, then every 32 cycles after the last try:
# DigitalOcean's API budget is not spent every 30 s on a droplet it keeps refusing to power off.
BACKOFF_MAX_CYCLES = 32
BACKOFF_STEPS = 6


def count_error_cycles() -> None:
    """One more cycle for every host in ERROR; back to 0 for the others. Two UPDATEs."""
    Host.objects.filter(state=HostState.ERROR).update(error_cycles=F("error_cycles") + 1)
    Host.objects.exclude(state=HostState.ERROR).exclude(error_cycles=0).update(error_cycles=0)


def fence_lost_hosts() -> list[Host]:
    """Start fencing the hosts lost long enough; the hosts it started for."""
    cycles = settings.HOST_RECOVERY_CYCLES
    if not cycles:
        return []
    lost = (
        Host.objects.filter(
            state=HostState.ERROR,
            error_cycles__gte=cycles,
            provision__state__in=[ProvisionState.RUNNING, ProvisionState.ERROR],
        )
        .exclude(problem__in=[HostProblem.FENCED, HostProblem.REBOOTED])
        .select_related("provision")
    )
    started = []
    for host in lost:
        vms = list(
            VM.objects.filter(host=host).exclude(state=VMState.DONE).select_related("template")
        )
        if not any(vm.recovery() != RecoveryPolicy.NONE for vm in vms):
            continue
        failures, last = _failed_fencings(host)
        if last is not None:
            waited = host.error_cycles - last.options.get("at_cycle", 0)
            if waited < min(2 ** (failures - 1), BACKOFF_MAX_CYCLES):
                continue  # after failed fencings: 1, 2, 4... cycles before the next try
        if last is not None:
            for vm in vms:
                vm_log(
                    vm,
                    f"fencing its host {host.name} failed ({last.error}): not recovered, so it "
                    f"cannot run twice; trying again (attempt {failures + 1})",
                    "warning",
                )
        reason = f"{host.name} ERROR for {host.error_cycles} monitoring cycles: {host.last_error}"
        try:
            host_services.fence(host.provision, host, reason=reason, at_cycle=host.error_cycles)
        except ValidationError as exc:
            log.info("fencing %s waits: %s", host.name, " ".join(exc.messages))
            continue
        for vm in vms:
            vm_log(vm, f"its host {host.name} is lost: fencing it before recovering the VM")
        started.append(host)
    return started


def _failed_fencings(host: Host) -> tuple[int, Job | None]:
    """How many fencings of the host failed since it last became ERROR, and the latest."""
    since = (
        HostEvent.objects.filter(host=host, to_state=HostState.ERROR)
        .exclude(from_state=HostState.ERROR)
        .order_by("-id")
        .values_list("at", flat=True)
        .first()
    )
    jobs = Job.objects.filter(provision=host.provision, kind=JobKind.FENCE, options__host=host.pk)
    if since is not None:
        jobs = jobs.filter(created_at__gte=since)
    failed = list(jobs.filter(state=JobState.FAILED).order_by("-id")[:BACKOFF_STEPS])
    return len(failed), failed[0] if failed else None
