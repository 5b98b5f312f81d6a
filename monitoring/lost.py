"""Lost hosts: a host monitoring has found ERROR for HOST_RECOVERY_CYCLES cycles in a row is
fenced (provisions/runs/fence.py), and its VMs recovered elsewhere once that succeeded. A host
that answers again before that is left alone (a flapping host does nothing), and so is one
whose VMs all have the recovery policy `none` (fencing it would only stop them). A fencing
that failed is tried again the next cycle; its VMs say why they still wait.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F

from jobs.states import JobState
from provisions.choices import HostProblem, HostState, JobKind, ProvisionState
from provisions.models import Host, Job
from provisions.services import hosts as host_services
from vms.choices import RecoveryPolicy, VMState
from vms.jobstart import vm_log
from vms.models import VM

log = logging.getLogger(__name__)


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
        _note_failed_fencing(host, vms)
        reason = f"{host.name} ERROR for {host.error_cycles} monitoring cycles: {host.last_error}"
        try:
            host_services.fence(host.provision, host, reason=reason)
        except ValidationError as exc:
            log.info("fencing %s waits: %s", host.name, " ".join(exc.messages))
            continue
        for vm in vms:
            vm_log(vm, f"its host {host.name} is lost: fencing it before recovering the VM")
        started.append(host)
    return started


def _note_failed_fencing(host: Host, vms) -> None:
    """The host's last fencing failed: its VMs say so (and stay as they are)."""
    last = (
        Job.objects.filter(provision=host.provision, kind=JobKind.FENCE, options__host=host.pk)
        .order_by("-id")
        .first()
    )
    if last is not None and last.state == JobState.FAILED:
        for vm in vms:
            vm_log(
                vm,
                f"fencing its host {host.name} failed ({last.error}): not recovered, so it "
                "cannot run twice; trying again",
                "warning",
            )
