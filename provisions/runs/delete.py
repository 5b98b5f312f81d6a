"""DeleteRun: the cluster's VMs, private networking, droplets, firewall, VPC and SSH key, then
proof that nothing tagged or named for the provision is left in DigitalOcean."""

import time

from django.conf import settings

from core.choices import EventSource
from hostexec.keys import md5_fingerprint
from hostexec.ssh import SSHError
from providers.drivers import NotFound, PermanentError
from provisions import hooks, hostconfig
from provisions.choices import HostState, ResourceKind, ResourceState
from provisions.hostconfig import evpn
from provisions.hoststates import move_hosts
from provisions.models import CloudResource, Host
from provisions.progress import in_parallel
from provisions.runs.base import Run, StepFailed


class DeleteRun(Run):
    steps = ["vms", "private_network", "droplets", "firewall", "vpc", "ssh_key", "verify"]

    def _rows(self, kind):
        return CloudResource.objects.filter(provision=self.provision, kind=kind).exclude(
            state=ResourceState.DELETED
        )

    def step_vms(self):
        # The apps built on provisions end their own objects (vms registers its VMs' end).
        ended = sum(hooks.end_cluster_vms(self.provision, self.rec.log))
        if ended:
            self.rec.log(f"{ended} VM(s) terminated with the cluster; ports and addresses released")

    def step_private_network(self):
        """Stop FRR and remove the VXLAN devices before the droplets go: best effort, since
        deleting the droplets removes them anyway and a host may be unreachable by now."""
        hosts = [
            h
            for h in self.live_hosts().filter(state__in=[HostState.RUNNING, HostState.ERROR])
            if h.public_ip and h.hostconfig_version
        ]

        def one(host: Host) -> None:
            try:
                with self._session(host) as session:
                    session.connect(wait=0)
                    evpn.teardown(session, log=self.rec.log)
            except (SSHError, hostconfig.HostConfigError) as exc:
                self.rec.log(f"{host.name}: private networking not torn down: {exc}", "warning")

        in_parallel(one, hosts)

    def step_droplets(self):
        p = self.provision
        if self.driver.droplets(tag=p.tag):
            self.driver.delete_droplets_by_tag(p.tag)
            self.rec.log(f"deleting droplets tagged {p.tag}")
        deadline = time.monotonic() + settings.PROVISION_DELETE_TIMEOUT
        while self.driver.droplets(tag=p.tag):
            if time.monotonic() >= deadline:
                raise StepFailed("droplets", "droplets still exist after delete; retry delete")
            time.sleep(settings.PROVISION_POLL_INTERVAL)
        for row in self._rows(ResourceKind.DROPLET):
            self.forget(row)
        job = self.rec.job
        move_hosts(
            p.hosts.all(),
            HostState.REMOVED,
            source=EventSource.JOB,
            actor=job.created_by,
            reason=f"{job.kind} job {job.pk}: droplets deleted",
        )

    def step_firewall(self):
        for row in self._rows(ResourceKind.FIREWALL):
            ids = (
                [row.cloud_id]
                if row.cloud_id
                else [f["id"] for f in self.driver.firewalls() if f["name"] == row.name]
            )
            for firewall_id in ids:
                try:
                    self.driver.delete_firewall(firewall_id)
                except NotFound:
                    pass
            self.forget(row)

    def step_vpc(self):
        for row in self._rows(ResourceKind.VPC):
            if not row.owned:
                self.rec.log(f"VPC {row.name} is a region default: kept, as DigitalOcean requires")
                self.forget(row)
                continue
            ids = (
                [row.cloud_id]
                if row.cloud_id
                else [v["id"] for v in self.driver.vpcs() if v["name"] == row.name]
            )
            for vpc_id in ids:
                self._delete_vpc(row.name, vpc_id)
            self.forget(row)

    def _delete_vpc(self, name: str, vpc_id: str) -> None:
        """DigitalOcean refuses (403) to delete a VPC while it has members, and releases a
        deleted droplet's membership only minutes after the droplet is gone: retry, waiting
        longer each time, for at most PROVISION_VPC_RELEASE_TIMEOUT."""
        timeout = settings.PROVISION_VPC_RELEASE_TIMEOUT
        deadline = time.monotonic() + timeout
        wait = settings.PROVISION_POLL_INTERVAL
        checked_default = False
        while True:
            try:
                self.driver.delete_vpc(vpc_id)
                return
            except NotFound:
                return
            except PermanentError as exc:
                if exc.status != 403:
                    raise
                if not checked_default:
                    # The other 403: a region's default VPC is never deleted.
                    if self.driver.get_vpc(vpc_id).get("default"):
                        raise StepFailed(
                            "vpc", f"VPC {name} has become its region's default: not deletable"
                        ) from exc
                    checked_default = True
            if time.monotonic() + wait > deadline:
                raise StepFailed(
                    "vpc",
                    f"VPC {name} still has members after {timeout:g} s; delete again later",
                )
            self.rec.log(
                f"VPC {name} still has members (DigitalOcean releases them a few minutes "
                f"after the droplets go); retrying in {wait:g} s"
            )
            time.sleep(wait)
            wait = min(60.0, wait * 2)

    def step_ssh_key(self):
        for row in self._rows(ResourceKind.SSH_KEY):
            try:
                self.driver.delete_ssh_key(
                    row.cloud_id or md5_fingerprint(self.provision.ssh_public_key)
                )
            except NotFound:
                pass
            self.forget(row)

    def step_verify(self):
        p = self.provision
        left = [f"droplet {d['name']}" for d in self.driver.droplets(tag=p.tag)]
        left += [f"firewall {f['name']}" for f in self.driver.firewalls() if f["name"] == p.tag]
        left += [f"VPC {v['name']}" for v in self.driver.vpcs() if v["name"] == p.tag]
        try:
            # By fingerprint, not by listing the account's keys (10 listings a minute).
            key = self.driver.ssh_key(md5_fingerprint(p.ssh_public_key))
            left.append(f"SSH key {key['name']}")
        except NotFound:
            pass
        if left:
            raise StepFailed("verify", "still in DigitalOcean after delete: " + ", ".join(left))
        self.rec.log(f"verified: nothing tagged or named {p.tag} is left in DigitalOcean")
