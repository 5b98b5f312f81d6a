"""RemoveHostRun: one host's droplet and records go; the others re-peer without it."""

import time

from django.conf import settings

from providers.drivers import NotFound
from provisions.choices import HostState, ResourceKind
from provisions.models import CloudResource, Host, Provision
from provisions.runs.base import Run, StepFailed


class RemoveHostRun(Run):
    steps = ["droplet", "record", "private_network"]

    def __init__(self, provision, driver, recorder, host: Host):
        super().__init__(provision, driver, recorder)
        self.host = host

    def step_droplet(self):
        host = self.host
        Host.objects.filter(pk=host.pk).update(state=HostState.REMOVING)
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
        Host.objects.filter(pk=self.host.pk).update(state=HostState.REMOVED)
        Provision.objects.filter(pk=self.provision.pk).update(host_count=self.live_hosts().count())

    def step_private_network(self):
        # The remaining hosts drop the removed one; if it was the route reflector, the next
        # host takes over.
        self.configure_private_networks("private_network")
