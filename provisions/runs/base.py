"""The runs' common ground: idempotent reconcilers over the CloudResource ledger.

Each step looks at the ledger and at DigitalOcean, does only what is missing and records it.
A ledger row is written PLANNED *before* each create call, so a run killed between the call
and the record is resumed by adopting the object (found by name or tag), never duplicating it.
"""

import time

from django.conf import settings
from django.utils import timezone

from hostexec.ssh import HostSession, SSHError
from providers.drivers import CloudError, TransientError
from provisions import hostconfig, metering, networks
from provisions.choices import HostState, ResourceKind, ResourceState
from provisions.hostconfig import evpn
from provisions.models import CloudResource, Host, Provision
from provisions.progress import JobRecorder, in_parallel


class StepFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


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
        except Exception:
            self._log_calls()
            raise
        self._log_calls()

    def _log_calls(self):
        self.rec.log(
            f"DigitalOcean API calls in this run: {self.driver.api_calls} "
            f"({self.driver.retried_calls} retries)"
        )
        limited = self.driver.rate_limit_summary()
        if limited:
            self.rec.log(limited, "warning")

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
        if row.kind == ResourceKind.DROPLET:
            metering.droplet_ended(row.cloud_id, row.deleted_at)

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
