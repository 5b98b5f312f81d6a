"""Deploy and delete runs: idempotent reconcilers over the CloudResource ledger.

Each step looks at the ledger and at DigitalOcean, does only what is missing and records it.
A ledger row is written PLANNED *before* each create call, so a run killed between the call
and the record is resumed by adopting the object (found by name or tag), never duplicating it.
"""

import time

from django.conf import settings
from django.utils import timezone

from providers.drivers import CloudError, NotFound, TransientError
from providers.drivers.digitalocean import private_ipv4, public_ipv4
from provisions import hostconfig, networks
from provisions.choices import HostState, ResourceKind, ResourceState
from provisions.hostconfig import evpn
from provisions.models import CloudResource, Host, Provision
from provisions.progress import JobRecorder, in_parallel
from provisions.ssh import HostSession, SSHError

# Tests set this to a step name to simulate the worker being killed right after that step.
CRASH_AFTER_STEP: str | None = None


class SimulatedCrash(BaseException):
    """Escapes every handler, like a killed worker: nothing records the failure."""


class StepFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


ALLOW_ALL = [
    {"protocol": "tcp", "ports": "all"},
    {"protocol": "udp", "ports": "all"},
    {"protocol": "icmp"},
]
EVERYWHERE = {"addresses": ["0.0.0.0/0", "::/0"]}


def cloud_config(provision: Provision) -> str:
    """User data pinning the hosts' SSH host key (cloud-init's `ssh_keys`)."""
    private = provision.host_key_private().strip().replace("\n", "\n    ")
    return (
        "#cloud-config\n"
        "ssh_deletekeys: true\n"
        "ssh_keys:\n"
        "  ed25519_private: |\n"
        f"    {private}\n"
        f"  ed25519_public: {provision.host_key_public.strip()}\n"
    )


class Run:
    steps: list[str] = []

    def __init__(self, provision: Provision, driver, recorder: JobRecorder):
        self.provision = provision
        self.driver = driver
        self.rec = recorder
        self.evpn_configured: set[int] = set()  # hosts given private networking by this job

    def run(self) -> None:
        total = len(self.steps)
        try:
            for index, name in enumerate(self.steps):
                self.before_step(name)
                self.rec.step(name, index, total)
                self._run_step(name)
                if CRASH_AFTER_STEP == name:
                    raise SimulatedCrash(name)
        except Exception:
            self._log_calls()
            raise
        self._log_calls()

    def _log_calls(self):
        self.rec.log(
            f"DigitalOcean API calls in this run: {self.driver.api_calls} "
            f"({self.driver.retried_calls} retries)"
        )

    def _run_step(self, name: str) -> None:
        """Run one step; a transient cloud error (5xx on a POST, a rate limit that outlasted the
        driver's retries) re-runs the whole step, which is safe because steps reconcile."""
        attempts = settings.PROVISION_STEP_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                getattr(self, f"step_{name}")()
                return
            except TransientError as exc:
                if attempt == attempts:
                    raise StepFailed(name, str(exc)) from exc
                self.rec.log(
                    f"{name}: {exc}; running the step again ({attempt}/{attempts - 1})", "warning"
                )
                time.sleep(min(30.0, settings.DIGITALOCEAN_BACKOFF * 2**attempt))
            except (CloudError, SSHError, hostconfig.HostConfigError) as exc:
                raise StepFailed(name, str(exc)) from exc

    def before_step(self, name: str) -> None:
        pass

    # -- ledger helpers ------------------------------------------------------------------------
    def ledger(self, kind: str, name: str, owned: bool = True) -> CloudResource:
        row, _ = CloudResource.objects.get_or_create(
            provision=self.provision, kind=kind, name=name, defaults={"owned": owned}
        )
        return row

    def confirm(self, row: CloudResource, cloud_id, **data) -> None:
        row.cloud_id = str(cloud_id)
        row.state = ResourceState.CREATED
        row.created_at = timezone.now()
        row.data = {**row.data, **data}
        row.save(update_fields=["cloud_id", "state", "created_at", "data"])

    def forget(self, row: CloudResource) -> None:
        row.state = ResourceState.DELETED
        row.deleted_at = timezone.now()
        row.save(update_fields=["state", "deleted_at"])

    def live_hosts(self):
        return self.provision.hosts.exclude(state__in=[HostState.REMOVING, HostState.REMOVED])

    def _session(self, host: Host) -> HostSession:
        p = self.provision
        return HostSession(host.public_ip, private_key=p.private_key(), host_key=p.host_key_public)

    # -- private networking ---------------------------------------------------------------------
    def evpn_plan(self, states) -> tuple[list[evpn.Peer], list[int]]:
        """The BGP-EVPN peers (hosts in `states` with a VPC address, in ID order: the first is
        the route reflector) and the VNIs of the cluster's private networks."""
        hosts = self.live_hosts().filter(state__in=states).order_by("id")
        peers = [evpn.Peer(h.name, h.private_ip) for h in hosts if h.private_ip]
        vnis = [n.vni for n in networks.private_networks(self.provision)]
        if peers:
            self.rec.log(
                f"private networking: route reflector {peers[0].name} ({peers[0].private_ip}), "
                f"{len(peers)} host(s), VNI {', '.join(map(str, vnis)) or 'none'}"
            )
        return peers, vnis

    def configure_private_networks(self, step: str, skip=frozenset()) -> None:
        """(Re)render FRR and the VXLAN devices on every RUNNING host not in `skip` (those this
        job configured already, in the same SSH session as the rest of their set-up): the peers
        and the route reflector follow the current set of hosts. Hosts whose configuration is
        unchanged keep their BGP sessions (the script restarts FRR only when its file changed)."""
        peers, vnis = self.evpn_plan([HostState.RUNNING])
        hosts = [
            h
            for h in self.live_hosts().filter(state=HostState.RUNNING).order_by("id")
            if h.private_ip and h.pk not in skip
        ]

        def one(host: Host) -> str | None:
            me = evpn.Peer(host.name, host.private_ip)
            try:
                with self._session(host) as session:
                    session.connect(wait=settings.PROVISION_SSH_WAIT)
                    evpn.apply(session, me, peers, vnis, log=self.rec.log)
            except (SSHError, hostconfig.HostConfigError, ValueError) as exc:
                self.rec.error(f"{host.name}: {exc}")
                return f"{host.name}: {exc}"
            return None

        errors = [e for e in in_parallel(one, hosts) if e]
        if errors:
            raise StepFailed(step, "; ".join(errors))


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

    def before_step(self, name):
        if name == "configure_hosts":
            from provisions.services import transition

            transition(self.provision, "CONFIGURING", {"DEPLOYING"}, reason="droplets active")

    def step_ssh_key(self):
        p = self.provision
        row = self.ledger(ResourceKind.SSH_KEY, p.tag)
        if row.state == ResourceState.CREATED:
            return
        from provisions.keys import md5_fingerprint

        fingerprint = md5_fingerprint(p.ssh_public_key)
        existing = [k for k in self.driver.ssh_keys() if k.get("fingerprint") == fingerprint]
        key = existing[0] if existing else self.driver.create_ssh_key(p.tag, p.ssh_public_key)
        self.confirm(row, key["id"], fingerprint=fingerprint)
        self.rec.log(f"SSH key {p.tag} {'adopted' if existing else 'created'} (id {key['id']})")

    def step_vpc(self):
        p = self.provision
        region = p.provider.region
        row = self.ledger(ResourceKind.VPC, p.tag)
        if row.state == ResourceState.CREATED:
            return
        vpcs = self.driver.vpcs()
        in_region = [v for v in vpcs if v.get("region") == region]
        if not any(v.get("default") for v in in_region):
            # The document's warning: the first VPC of an empty region becomes its default and
            # can never be deleted. Give the region a default VPC (DigitalOcean picks its range)
            # so the provision's own VPC stays deletable.
            default_name = f"default-{region}"
            default_row = self.ledger(ResourceKind.VPC, default_name, owned=False)
            found = [v for v in in_region if v["name"] == default_name]
            vpc = (
                found[0]
                if found
                else self.driver.create_vpc(
                    default_name, region, "Default VPC of the region (created by Edge Portal)"
                )
            )
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
        missing = []
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
            else:
                missing.append(host)
        if not missing:
            return
        created = self.driver.create_droplets(
            [h.name for h in missing],
            region=p.provider.region,
            size=p.size,
            image=p.image,
            ssh_keys=[int(self._key_id())],
            tags=[p.tag],
            vpc_uuid=self._vpc_id(),
            user_data=cloud_config(p),
        )
        by_name = {d["name"]: d for d in created}
        for host in missing:
            droplet = by_name[host.name]
            host.droplet_id = droplet["id"]
            host.save(update_fields=["droplet_id"])
            self.confirm(self.ledger(ResourceKind.DROPLET, host.name), droplet["id"])
        self.rec.log(
            f"created {len(missing)} droplet(s) in one request: "
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
        if row.state == ResourceState.CREATED:
            return
        found = [f for f in self.driver.firewalls() if f["name"] == p.tag]
        firewall = (
            found[0]
            if found
            else self.driver.create_firewall(
                p.tag,
                tags=[p.tag],
                # The document: "by default all the traffic is allowed".
                inbound_rules=[{**rule, "sources": EVERYWHERE} for rule in ALLOW_ALL],
                outbound_rules=[{**rule, "destinations": EVERYWHERE} for rule in ALLOW_ALL],
            )
        )
        self.confirm(row, firewall["id"])
        self.rec.log(f"firewall {p.tag} {'adopted' if found else 'created'}")

    def step_configure_hosts(self):
        hosts = [h for h in self.live_hosts() if h.state != HostState.RUNNING]
        if not hosts:
            return
        Host.objects.filter(pk__in=[h.pk for h in hosts]).update(state=HostState.CONFIGURING)
        # Private networking goes over the same session as the rest of the set-up (one SSH
        # connection per host per job); the peers are every host that is or is becoming RUNNING.
        peers, vnis = self.evpn_plan([HostState.RUNNING, HostState.CONFIGURING])

        errors = [e for e in in_parallel(lambda h: self._configure_one(h, peers, vnis), hosts) if e]
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
            Host.objects.filter(pk=host.pk).update(state=HostState.ERROR, last_error=str(exc))
            self.rec.error(f"{host.name}: {exc}")
            return f"{host.name}: {exc}"
        Host.objects.filter(pk=host.pk).update(
            state=HostState.RUNNING,
            cpu=facts.cpu,
            memory_mb=facts.memory_mb,
            hostconfig_version=facts.version,
            host_key_fingerprint=p.host_key_fingerprint,
            last_error="",
        )
        self.rec.log(
            f"{host.name}: configured (hostconfig v{facts.version}, {facts.cpu} CPU, "
            f"{facts.memory_mb} MiB)"
        )
        return None

    def step_private_network(self):
        # The hosts configured above have it; the others learn of new peers or networks.
        self.configure_private_networks("private_network", skip=self.evpn_configured)


class DeleteRun(Run):
    steps = ["vms", "private_network", "droplets", "firewall", "vpc", "ssh_key", "verify"]

    def _rows(self, kind):
        return CloudResource.objects.filter(provision=self.provision, kind=kind).exclude(
            state=ResourceState.DELETED
        )

    def step_vms(self):
        from vms.services import end_with_cluster  # vms builds on provisions

        ended = end_with_cluster(self.provision, self.rec.log)
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
        p.hosts.update(state=HostState.REMOVED)

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
                try:
                    self.driver.delete_vpc(vpc_id)
                except NotFound:
                    pass
            self.forget(row)

    def step_ssh_key(self):
        from provisions.keys import md5_fingerprint

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
        left += [f"SSH key {k['name']}" for k in self.driver.ssh_keys() if k["name"] == p.tag]
        if left:
            raise StepFailed("verify", "still in DigitalOcean after delete: " + ", ".join(left))
        self.rec.log(f"verified: nothing tagged or named {p.tag} is left in DigitalOcean")


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
