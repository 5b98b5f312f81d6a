"""What a probe found, mapped onto host and VM states. Report only: nothing here starts, stops
or deletes anything; every change is conditional on the state seen before the probe (so a job
acting meanwhile wins) and leaves a history row with source `monitor` and the reason.

VM, as OpenNebula means it:
- RUNNING container, VM POWEROFF/UNKNOWN -> RUNNING ("running again")
- STOPPED container the portal did not stop (VM RUNNING) -> POWEROFF
- no container, or its host does not answer -> UNKNOWN
Host: MONITOR_HOST_FAILURES unanswered probes in a row -> ERROR (problem `unreachable`); an
answer clears that by itself (and `droplet_off`, once DigitalOcean has it on again). A new boot
id -> ERROR (problem `rebooted`), its VMs left as they were until the Repair restores them.
"""

from django.conf import settings

from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from monitoring.models import HostSample, VMSample
from monitoring.probe import HostReading
from provisions.choices import SELF_HEALING, HostProblem, HostState
from provisions.models import Host
from vms.choices import VM_MONITORED, VMState
from vms.services import vm_log

MONITOR = EventSource.MONITOR


def set_host_state(host: Host, to: str, problem: str, reason: str, **match) -> bool:
    """Host `host.state` -> `to`, only if it (its problem and `match` too) has not changed
    since it was read; False when it has (a job's change meanwhile stands)."""
    try:
        transition(
            host,
            to,
            {host.state},
            source=MONITOR,
            reason=reason,
            match={"problem": host.problem, **match},
            also={"problem": problem, "last_error": reason if problem else ""},
        )
    except InvalidTransition:
        return False
    return True


def _vm_to(vm, to: str, reason: str) -> None:
    before = vm.state
    if before == to:
        return
    try:
        transition(
            vm, to, {before}, source=MONITOR, reason=reason, match={"updated_at": vm.updated_at}
        )
    except InvalidTransition:
        return
    vm_log(vm, f"monitor: {before} -> {to}: {reason}", "warning")


def vms_unknown(vms, reason: str) -> None:
    for vm in vms:
        if vm.state in VM_MONITORED:
            _vm_to(vm, VMState.UNKNOWN, reason)


def unanswered(host: Host, vms, error: str) -> None:
    """The probe did not get through. Only after MONITOR_HOST_FAILURES cycles in a row does the
    host become ERROR and its VMs UNKNOWN: one lost packet is not an outage."""
    failures = host.failed_probes + 1
    Host.objects.filter(pk=host.pk).update(failed_probes=failures)
    host.failed_probes = failures
    if failures < settings.MONITOR_HOST_FAILURES:
        return
    reason = f"host does not answer ({failures} probes in a row): {error}"
    if host.state == HostState.RUNNING:
        set_host_state(host, HostState.ERROR, HostProblem.UNREACHABLE, reason)
    if host.state == HostState.ERROR:
        vms_unknown(vms, f"its host {host.name} does not answer")


def answered(host: Host, vms, reading: HostReading, now, last_host, last_vms) -> list:
    """The probe got through: heal what an earlier silence broke, move VMs to what their
    containers show, and return the samples to store (CPU % from the previous counters)."""
    rebooted = bool(host.boot_id and reading.boot_id and reading.boot_id != host.boot_id)
    seen = {"boot_id": reading.boot_id} if reading.boot_id else {}
    Host.objects.filter(pk=host.pk).update(failed_probes=0, monitored_at=now, **seen)
    host.failed_probes = 0
    if rebooted:
        # Its containers are stopped because the droplet restarted, not because anyone stopped
        # them: the VMs keep their state and the Repair monitoring starts (monitoring/reboot.py)
        # sets the host up again and starts them.
        set_host_state(
            host,
            HostState.ERROR,
            HostProblem.REBOOTED,
            f"droplet rebooted (boot id {host.boot_id[:8]} -> {reading.boot_id[:8]})",
        )
    elif host.state == HostState.ERROR and host.problem in SELF_HEALING:
        set_host_state(host, HostState.RUNNING, HostProblem.NONE, "host answers again")
    host.boot_id = reading.boot_id or host.boot_id
    samples = []
    running = 0
    for vm in vms:
        container = reading.containers.get(vm.container_name)
        if container is not None and container.state == "RUNNING":
            running += 1
        if container is not None:
            previous = last_vms.get(vm.pk)
            samples.append(
                VMSample(
                    vm=vm,
                    at=now,
                    cpu_seconds=container.cpu_seconds,
                    cpu_percent=_vm_cpu(previous, container.cpu_seconds, now),
                    memory_mb=container.memory_mb,
                    net_rx_bytes=container.net_rx_bytes,
                    net_tx_bytes=container.net_tx_bytes,
                    disk_used_mb=container.disk_used_mb,
                )
            )
        if vm.state not in VM_MONITORED or host.state != HostState.RUNNING:
            continue
        if container is None or container.state == "GONE":
            _vm_to(vm, VMState.UNKNOWN, f"container {vm.container_name} not found on {host.name}")
        elif container.state == "RUNNING":
            _vm_to(vm, VMState.RUNNING, "container running again")
        elif container.state == "STOPPED":
            why = (
                "container stopped outside the portal"
                if vm.state == VMState.RUNNING
                else ("container found stopped")
            )
            _vm_to(vm, VMState.POWEROFF, why)
    samples.append(
        HostSample(
            host=host,
            at=now,
            cpu_total_ticks=reading.cpu_total_ticks,
            cpu_idle_ticks=reading.cpu_idle_ticks,
            cpu_percent=_host_cpu(last_host, reading),
            load1=reading.load1,
            memory_total_mb=reading.memory_total_mb,
            memory_used_mb=reading.memory_used_mb,
            disk_total_mb=reading.disk_total_mb,
            disk_used_mb=reading.disk_used_mb,
            vms_running=running,
        )
    )
    return samples


def _host_cpu(previous: HostSample | None, reading: HostReading) -> float | None:
    if previous is None:
        return None
    total = reading.cpu_total_ticks - previous.cpu_total_ticks
    idle = reading.cpu_idle_ticks - previous.cpu_idle_ticks
    if total <= 0 or idle < 0:  # counters reset: the host rebooted
        return None
    return round(100.0 * (total - idle) / total, 1)


def _vm_cpu(previous: VMSample | None, cpu_seconds: float, now) -> float | None:
    """CPU % of one core, as OpenNebula's CPU figure (200 = two cores busy)."""
    if previous is None:
        return None
    elapsed = (now - previous.at).total_seconds()
    used = cpu_seconds - previous.cpu_seconds
    if elapsed <= 0 or used < 0:  # the container restarted: its counter began again
        return None
    return round(100.0 * used / elapsed, 1)
