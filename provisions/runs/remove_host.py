"""RemoveHostRun: one host's droplet and records go; the others re-peer without it."""

import time

from django.conf import settings

from core.choices import EventSource
from providers.drivers import NotFound
from provisions.choices import HostState, ResourceKind
from provisions.hoststates import move_hosts
from provisions.models import CloudResource, Host, Provision
from provisions.runs.base import Run, StepFailed


class RemoveHostRun(Run):
    steps = ["droplet", "record", "private_network"]

    def __init__(self, provision, driver, recorder, host: Host):
        super().__init__(provision, driver, recorder)
        self.host = host

    def step_droplet(self):
        host = self.host
        self._host_to(HostState.REMOVING, "removing its droplet")
        if host.droplet_id:
            try:
                self.driver.delete_droplet(host.droplet_id)
            except NotFound:
                pass
            deadline = time.monotonic() + settings.PROVISION_DELETE_TIMEOUT
            while any(
                d["id"] == host.droplet_id for d in self.driver.droplets(tag=self.provision.tag)
            ):
                if time.monotonic() >= deadline:
                    raise StepFailed("droplet", f"droplet {host.name} still exists after delete")
                time.sleep(settings.PROVISION_POLL_INTERVAL)
        self.rec.log(f"droplet {host.name} deleted")

    def step_record(self):
        for row in CloudResource.objects.filter(
            provision=self.provision, kind=ResourceKind.DROPLET, name=self.host.name
        ):
            self.forget(row)
        self._host_to(HostState.REMOVED, "droplet deleted")
        Provision.objects.filter(pk=self.provision.pk).update(host_count=self.live_hosts().count())

    def _host_to(self, state: str, reason: str) -> None:
        job = self.rec.job
        reason = f"{job.kind} job {job.pk}: {reason}"
        move_hosts([self.host], state, source=EventSource.JOB, actor=job.created_by, reason=reason)

    def step_private_network(self):
        # The remaining hosts drop the removed one; if it was the route reflector, the next
        # host takes over.
        self.configure_private_networks("private_network")
