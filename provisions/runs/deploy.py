"""DeployRun: SSH key, VPC, droplets, firewall, then host configuration and private networking."""

import time

from django.conf import settings

from core.choices import EventSource
from core.transitions import transition
from hostexec.keys import md5_fingerprint
from hostexec.ssh import SSHError
from providers.drivers import NotFound, PermanentError
from providers.drivers.digitalocean import MAX_DROPLETS_PER_CREATE, private_ipv4, public_ipv4
from provisions import cloud_init, firewall_rules, hooks, hostconfig, metering
from provisions.choices import (
    HostProblem,
    HostState,
    ProvisionState,
    ResourceKind,
    ResourceState,
)
from provisions.hostconfig import evpn
from provisions.hoststates import move_hosts
from provisions.models import CloudResource, Host
from provisions.progress import in_parallel
from provisions.runs.base import Run, StepFailed
from provisions.runs.firewall import reconcile_rules
from provisions.secgroups.rules import desired as desired_rules


def portal_tag() -> str:
    """The tag every droplet of the portal carries besides its provision's own."""
    return settings.DIGITALOCEAN_PORTAL_TAG


class DeployRun(Run):
    steps = [
        "ssh_key",
        "vpc",
        "droplets",
        "wait_active",
        "firewall",
        "configure_hosts",
        "private_network",
    ]

    def __init__(self, provision, driver, recorder, repair: bool = False):
        super().__init__(provision, driver, recorder)
        # A repair (monitoring found drift) also checks that what the ledger says was created
        # is still there, instead of trusting it.
        self.repair = repair

    def before_step(self, name):
        if name == "configure_hosts":
            transition(
                self.provision,
                ProvisionState.CONFIGURING,
                {ProvisionState.DEPLOYING},
                source=EventSource.JOB,
                reason="droplets active",
            )

    def step_ssh_key(self):
        p = self.provision
        row = self.ledger(ResourceKind.SSH_KEY, p.tag)
        if row.state == ResourceState.CREATED:
            return
        fingerprint = md5_fingerprint(p.ssh_public_key)
        # The key is looked up by its fingerprint (a run killed after creating it adopts it),
        # not found in the account's list: DigitalOcean allows 10 listings a minute.
        try:
            key, adopted = self.driver.ssh_key(fingerprint), True
        except NotFound:
            key, adopted = self.driver.create_ssh_key(p.tag, p.ssh_public_key), False
        self.confirm(row, key["id"], fingerprint=fingerprint)
        self.rec.log(f"SSH key {p.tag} {'adopted' if adopted else 'created'} (id {key['id']})")

    def step_vpc(self):
        p = self.provision
        region = p.provider.region
        row = self.ledger(ResourceKind.VPC, p.tag)
        if row.state == ResourceState.CREATED and not self.repair:
            return
        vpcs = self.driver.vpcs()
        if row.state == ResourceState.CREATED:
            if any(v["id"] == row.cloud_id for v in vpcs):
                return
            # A repair: deleted outside the portal (DigitalOcean allows it once no droplet is
            # in it, so its droplets are gone too and are made again in the new one).
            self.rec.log(f"VPC {p.tag} is gone from DigitalOcean: creating it again", "warning")
        in_region = [v for v in vpcs if v.get("region") == region]
        if not any(v.get("default") for v in in_region):
            # The document's warning: the first VPC of an empty region becomes its default and
            # can never be deleted. Give the region a default VPC (DigitalOcean picks its range)
            # so the provision's own VPC stays deletable.
            default_name = f"default-{region}"
            default_row = self.ledger(ResourceKind.VPC, default_name, owned=False)
            found = [v for v in in_region if v["name"] == default_name]
            vpc = found[0] if found else self._create_default_vpc(default_name, region)
            self.confirm(default_row, vpc["id"], default=True, ip_range=vpc.get("ip_range"))
            self.rec.log(f"region {region} had no default VPC: created {default_name}")
            vpcs = self.driver.vpcs()
        found = [v for v in vpcs if v["name"] == p.tag]
        vpc = (
            found[0]
            if found
            else self.driver.create_vpc(p.tag, region, f"Edge Portal provision {p.name}")
        )
        if vpc.get("default"):
            row.owned = False
            row.save(update_fields=["owned"])
        self.confirm(row, vpc["id"], ip_range=vpc.get("ip_range"), default=vpc.get("default"))
        self.rec.log(f"VPC {p.tag} {'adopted' if found else 'created'} ({vpc.get('ip_range')})")

    def _create_default_vpc(self, name: str, region: str) -> dict:
        try:
            return self.driver.create_vpc(
                name, region, "Default VPC of the region (created by Edge Portal)"
            )
        except PermanentError as exc:
            # Provisions deploying at once into an empty region all try to create it; the
            # name is unique per account, so all but one get 422: they adopt the winner's.
            if exc.status != 422:
                raise
            found = [v for v in self.driver.vpcs() if v["name"] == name]
            if not found:
                raise
            self.rec.log(f"{name} was created meanwhile (another deploy): adopted")
            return found[0]

    def _vpc_id(self) -> str:
        return CloudResource.objects.get(
            provision=self.provision, kind=ResourceKind.VPC, name=self.provision.tag
        ).cloud_id

    def _key_id(self) -> str:
        return CloudResource.objects.get(
            provision=self.provision, kind=ResourceKind.SSH_KEY, name=self.provision.tag
        ).cloud_id

    def step_droplets(self):
        p = self.provision
        existing = {d["name"]: d for d in self.driver.droplets(tag=p.tag)}
        missing, untagged, off = [], [], []
        for host in self.live_hosts():
            row = self.ledger(ResourceKind.DROPLET, host.name)
            droplet = existing.get(host.name)
            if droplet is not None:
                if host.droplet_id != droplet["id"]:
                    host.droplet_id = droplet["id"]
                    host.save(update_fields=["droplet_id"])
                if row.state != ResourceState.CREATED:
                    self.confirm(row, droplet["id"])
                    self.rec.log(f"droplet {host.name} adopted (id {droplet['id']})")
                metering.droplet_started(p, host, droplet)
                if portal_tag() not in droplet.get("tags", []):
                    untagged.append(droplet["id"])
                if droplet.get("status") == "off":
                    off.append(host)
            else:
                if row.state == ResourceState.CREATED:
                    self.rec.log(
                        f"droplet {host.name} ({row.cloud_id}) is gone from DigitalOcean: "
                        "creating it again",
                        "warning",
                    )
                    metering.droplet_ended(row.cloud_id)
                missing.append(host)
        if untagged:
            # Monitoring lists droplets by the portal's tag: one without it (the tag taken off
            # in DigitalOcean's console, or a droplet older than the tag) would go unseen.
            self.driver.tag_droplets(portal_tag(), untagged)
        for host in off:
            self.rec.log(f"droplet {host.name} is off: powering it on", "warning")
            self.driver.droplet_action(host.droplet_id, "power_on", wait=True)
        if not missing:
            return
        created = self.driver.create_droplets(
            [h.name for h in missing],
            region=p.provider.region,
            size=p.size,
            image=p.image,
            ssh_keys=[int(self._key_id())],
            tags=[p.tag, portal_tag()],
            vpc_uuid=self._vpc_id(),
            user_data=cloud_init.user_data(p),
        )
        by_name = {d["name"]: d for d in created}
        for host in missing:
            droplet = by_name[host.name]
            host.droplet_id = droplet["id"]
            host.save(update_fields=["droplet_id"])
            self.confirm(self.ledger(ResourceKind.DROPLET, host.name), droplet["id"])
            metering.droplet_started(p, host, droplet)
        batches = -(-len(missing) // MAX_DROPLETS_PER_CREATE)
        self.rec.log(
            f"created {len(missing)} droplet(s) in {batches} request(s): "
            + ", ".join(h.name for h in missing)
        )

    def step_wait_active(self):
        p = self.provision
        deadline = time.monotonic() + settings.PROVISION_BOOT_TIMEOUT
        hosts = list(self.live_hosts())
        while True:
            droplets = {d["id"]: d for d in self.driver.droplets(tag=p.tag)}
            waiting = []
            for host in hosts:
                droplet = droplets.get(host.droplet_id)
                if droplet is None:
                    raise StepFailed(
                        "wait_active",
                        f"droplet {host.name} ({host.droplet_id}) disappeared from DigitalOcean",
                    )
                public, private = public_ipv4(droplet), private_ipv4(droplet)
                if droplet["status"] == "active" and public:
                    if (host.public_ip, host.private_ip) != (public, private):
                        host.public_ip, host.private_ip = public, private
                        host.save(update_fields=["public_ip", "private_ip"])
                else:
                    waiting.append(f"{host.name} ({droplet['status']})")
            if not waiting:
                self.rec.log(
                    "all droplets active: " + ", ".join(f"{h.name} {h.public_ip}" for h in hosts)
                )
                return
            if time.monotonic() >= deadline:
                raise StepFailed(
                    "wait_active",
                    (
                        f"droplet(s) not active after {settings.PROVISION_BOOT_TIMEOUT:.0f} s: "
                        + ", ".join(waiting)
                        + "; delete the provision or retry"
                    ),
                )
            time.sleep(settings.PROVISION_POLL_INTERVAL)

    def step_firewall(self):
        p = self.provision
        row = self.ledger(ResourceKind.FIREWALL, p.tag)
        if row.state == ResourceState.CREATED and not self.repair:
            return
        found = [f for f in self.driver.firewalls() if f["name"] == p.tag]
        if row.state == ResourceState.CREATED and found:
            # A repair: the firewall is still there; its rules may have drifted.
            reconcile_rules(self, row, found[0])
            return
        if row.state == ResourceState.CREATED:
            self.rec.log(f"firewall {p.tag} is gone from DigitalOcean: creating it again")
        if found:
            firewall = found[0]
        else:
            try:
                # A re-created firewall gets the security groups' rules too.
                rules = desired_rules(p)
            except firewall_rules.UnknownVPCRange as exc:
                raise StepFailed("firewall", str(exc)) from exc
            firewall = self.driver.create_firewall(
                p.tag, tags=[p.tag], inbound_rules=rules.inbound, outbound_rules=rules.outbound
            )
            row.data = {**row.data, "applied": rules.as_api()}
        self.confirm(row, firewall["id"])
        self.rec.log(f"firewall {p.tag} {'adopted' if found else 'created'}")

    def step_configure_hosts(self):
        hosts = [h for h in self.live_hosts() if h.state != HostState.RUNNING]
        if not hosts:
            return
        job = self.rec.job
        move_hosts(
            hosts,
            HostState.CONFIGURING,
            source=EventSource.JOB,
            actor=job.created_by,
            reason=f"{job.kind} job {job.pk} configures it",
        )
        # Private networking goes over the same session as the rest of the set-up (one SSH
        # connection per host per job); the peers are every host that is or is becoming RUNNING.
        peers, vnis = self.evpn_plan([HostState.RUNNING, HostState.CONFIGURING])

        errors = [e for e in in_parallel(lambda h: self._configure_one(h, peers, vnis), hosts) if e]
        joined = Host.objects.filter(pk__in=[h.pk for h in hosts], state=HostState.RUNNING)
        hooks.hosts_joined(self.provision, list(joined))
        if errors:
            raise StepFailed("configure_hosts", "; ".join(errors))

    def _configure_one(self, host: Host, peers, vnis) -> str | None:
        p = self.provision
        try:
            with self._session(host) as session:
                session.connect(wait=settings.PROVISION_SSH_WAIT)
                self.rec.log(
                    f"{host.name}: SSH connected, host key {p.host_key_fingerprint} verified"
                )
                facts = hostconfig.configure(session, log=self.rec.log)
                if host.private_ip:
                    me = evpn.Peer(host.name, host.private_ip)
                    evpn.apply(session, me, peers, vnis, log=self.rec.log)
                    self.evpn_configured.add(host.pk)
        except (SSHError, hostconfig.HostConfigError, ValueError) as exc:
            self._host_to(host, HostState.ERROR, str(exc), last_error=str(exc))
            self.rec.error(f"{host.name}: {exc}")
            return f"{host.name}: {exc}"
        job = self.rec.job
        self._host_to(
            host,
            HostState.RUNNING,
            f"configured by {job.kind} job {job.pk}"
            + (f" (was: {host.get_problem_display()})" if host.problem else ""),
            cpu=facts.cpu,
            memory_mb=facts.memory_mb,
            disk_mb=facts.disk_mb,
            hostconfig_version=facts.version,
            boot_id=facts.boot_id,
            host_key_fingerprint=p.host_key_fingerprint,
            last_error="",
            problem=HostProblem.NONE,
            failed_probes=0,
        )
        self.rec.log(
            f"{host.name}: configured (hostconfig v{facts.version}, {facts.cpu} CPU, "
            f"{facts.memory_mb} MiB)"
        )
        return None

    def _host_to(self, host: Host, state: str, reason: str, **also) -> None:
        job = self.rec.job
        move_hosts(
            [host], state, source=EventSource.JOB, actor=job.created_by, reason=reason, also=also
        )

    def step_private_network(self):
        # The hosts configured above have it; the others learn of new peers or networks.
        self.configure_private_networks("private_network", skip=self.evpn_configured)
