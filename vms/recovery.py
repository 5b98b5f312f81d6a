"""VMs started again on a host that has just been configured again (a provisions.hooks.hosts_joined
callable): after a droplet reboot its containers are stopped and their forwards gone, while the
portal still has the VMs as running. A `restart` job per such VM (vms/jobs.py) runs the deploy
script again, which puts back what is missing and starts the container; a VM the portal has as
powered off stays off.

A VM monitoring marked UNKNOWN while its host did not answer is started when the state it left
for UNKNOWN was RUNNING (its history says which).

A host brought back after it was lost and fenced (its droplet powered on again by a Repair)
still has the containers of the VMs recovered elsewhere meanwhile: they are destroyed before
anything starts there, so no VM ever runs twice.
"""

import logging

from jobs.states import JOB_LIVE
from vms import lxc
from vms.choices import VMState
from vms.jobstart import start_job
from vms.models import VM, VMEvent

log = logging.getLogger(__name__)


def was_running(vm: VM) -> bool:
    if vm.state == VMState.RUNNING:
        return True
    last = VMEvent.objects.filter(vm=vm, to_state=VMState.UNKNOWN).order_by("-id").first()
    return last is not None and last.from_state == VMState.RUNNING


def restart_vms_on(provision, hosts) -> int:
    """Queue a restart for each VM of `hosts` that should be running; how many were queued."""
    queued = 0
    candidates = VM.objects.filter(host__in=hosts, state__in=[VMState.RUNNING, VMState.UNKNOWN])
    for vm in candidates.exclude(jobs__state__in=JOB_LIVE).order_by("id"):
        if was_running(vm):
            start_job(vm, "restart")
            queued += 1
    return queued


def clear_strays(provision, hosts) -> int:
    """Destroy the containers on `hosts` of VMs that now live elsewhere or ended; how many.
    A host that does not answer is left for the next time it joins."""
    cleared = 0
    for host in hosts:
        try:
            names = lxc.containers_on(host)
            kept = {
                vm.container_name
                for vm in VM.objects.filter(host=host).exclude(state=VMState.DONE).only("pk")
            }
            strays = [name for name in names if name not in kept]
            if strays:
                lxc.destroy_containers(host, strays, log=log.info)
                cleared += len(strays)
        except lxc.LXCError as exc:
            log.warning("%s: stray containers not cleared: %s", host.name, exc)
    return cleared
