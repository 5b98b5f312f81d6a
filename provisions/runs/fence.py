"""FenceRun: a lost host made sure to stay lost before its VMs are recovered elsewhere, so a
VM can never run twice (OpenNebula's host-error hook fences through IPMI; here DigitalOcean's
API is the power switch). HOST_FENCE_POLICY says how: `poweroff` (the droplet and its disk
kept, for an operator to look at or a Repair to bring back) or `destroy`. A droplet already
gone is fenced. Only once DigitalOcean reports the droplet off (or gone) is the host FENCED
and the `host_fenced` hook called; a fencing that fails fails the job, and its VMs stay as
they are (monitoring tries again, less and less often)."""

import time

from django.conf import settings
from django.utils import timezone

from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from providers.drivers import NotFound
from provisions import hooks, metering
from provisions.choices import HostProblem, HostState, ResourceKind
from provisions.models import CloudResource, Host
from provisions.runs.base import Run, StepFailed


class FenceRun(Run):
    steps = ["fence", "recover"]

    def __init__(self, provision, driver, recorder, host: Host):
        super().__init__(provision, driver, recorder)
        self.host = host

    def step_fence(self):
        host = self.host
        if host.problem == HostProblem.FENCED:
            self.rec.log(f"{host.name} was fenced already ({host.fenced_at:%Y-%m-%d %H:%M})")
            return
        how = self._fence(host)
        reason = f"fenced: {how}"
        try:
            transition(
                host,
                HostState.ERROR,
                {HostState.ERROR},
                source=EventSource.JOB,
                actor=self.rec.job.created_by,
                reason=reason,
                also={"problem": HostProblem.FENCED, "last_error": reason},
            )
        except InvalidTransition:
            raise StepFailed("fence", f"{host.name} is {host.state} again: not fenced") from None
        Host.objects.filter(pk=host.pk).update(fenced_at=timezone.now())
        host.refresh_from_db()
        self.rec.log(f"{host.name} {reason}")

    def _fence(self, host: Host) -> str:
        if not host.droplet_id:
            return "it has no droplet"
        try:
            droplet = self.driver.get_droplet(host.droplet_id)
        except NotFound:
            metering.droplet_ended(host.droplet_id)
            return "its droplet is gone"
        if settings.HOST_FENCE_POLICY == "destroy":
            self.driver.delete_droplet(host.droplet_id)
            self._wait_gone(host)
            for row in CloudResource.objects.filter(
                provision=self.provision, kind=ResourceKind.DROPLET, name=host.name
            ):
                self.forget(row)
            return f"droplet {host.droplet_id} destroyed"
        if droplet.get("status") != "off":
            self.rec.log(f"{host.name}: powering droplet {host.droplet_id} off")
            self.driver.droplet_action(host.droplet_id, "power_off", wait=True)
            status = self.driver.get_droplet(host.droplet_id).get("status")
            if status != "off":
                raise StepFailed("fence", f"droplet {host.droplet_id} is {status} after power_off")
        return f"droplet {host.droplet_id} powered off"

    def _wait_gone(self, host: Host) -> None:
        deadline = time.monotonic() + settings.PROVISION_DELETE_TIMEOUT
        while True:
            try:
                self.driver.get_droplet(host.droplet_id)
            except NotFound:
                return
            if time.monotonic() >= deadline:
                raise StepFailed("fence", f"droplet {host.droplet_id} still exists after delete")
            time.sleep(settings.PROVISION_POLL_INTERVAL)

    def step_recover(self):
        started = sum(hooks.host_fenced(self.provision, self.host, self.rec.log))
        self.rec.log(f"{started} VM recovery(ies) started from {self.host.name}")
