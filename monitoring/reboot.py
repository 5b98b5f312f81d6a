"""Hosts whose droplet rebooted, set up again.

A reboot keeps the droplet's disk (the containers' root filesystems, FRR's service and its
configuration) and loses what lived in memory: the bridge, the iptables forwards, the VXLAN
devices and every running container. Monitoring sees the new boot id and puts the host in ERROR
with the problem `rebooted` (monitoring/observe.py); here it starts the provision's Repair,
which configures every host that is not RUNNING again (host set-up, EVPN), after which the VMs
the portal has as running are started again on it (vms/recovery.py, a hosts_joined hook).

A provision busy with another job is left for the next cycle: the host stays `rebooted` until
a Repair has run.
"""

import logging

from django.core.exceptions import ValidationError

from jobs.states import JOB_LIVE
from provisions.choices import HostProblem, HostState, JobKind, ProvisionState
from provisions.services import start_job

log = logging.getLogger(__name__)


def restore(hosts) -> list:
    """Start one Repair per provision with a rebooted host; the jobs started."""
    provisions = {
        host.provision_id: host.provision
        for host in hosts
        if host.state == HostState.ERROR and host.problem == HostProblem.REBOOTED
    }
    started = []
    for provision in provisions.values():
        if provision.state not in {ProvisionState.RUNNING, ProvisionState.ERROR}:
            continue
        if provision.jobs.filter(state__in=JOB_LIVE).exists():
            continue
        try:
            job = start_job(provision, JobKind.REPAIR, None)
        except ValidationError as exc:  # a job started meanwhile: the next cycle tries again
            log.info("provision %s: repair after reboot not started: %s", provision.pk, exc)
            continue
        log.warning("provision %s: host rebooted, repair job %s started", provision.pk, job.pk)
        started.append(job)
    return started
