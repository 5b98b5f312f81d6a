"""Drift: DigitalOcean compared with the ledger, once per token per cycle.

Per token, one paginated listing per kind (droplets by the portal's common tag, VPCs,
firewalls), whatever the number of provisions; the check spends at most MONITOR_API_SHARE of
the token's hourly budget and skips a cycle when DigitalOcean says few requests are left.
A droplet gone or off puts its host in ERROR; every finding is written on the provision
(`drift`), where the page offers Repair. Nothing is created, changed or deleted here, and no
job is started.
"""

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from jobs.states import JOB_LIVE
from monitoring import observe
from providers.drivers import CloudError, NotFound
from providers.drivers.digitalocean import DigitalOceanDriver
from provisions import metering
from provisions.choices import (
    HostProblem,
    HostState,
    ProvisionState,
    ResourceKind,
    ResourceState,
)
from provisions.models import CloudResource, Host, Provision
from provisions.secgroups import rules
from vms.models import VM

log = logging.getLogger(__name__)

CALLS_PER_CHECK = 3  # droplets, VPCs, firewalls: one page each for up to 200 of a kind
WINDOW = 3600.0


@dataclass
class TokenBudget:
    """Requests the drift check spent per token in the last hour. Kept in the supervisor's
    memory: only one supervisor runs the cycle at a time, and a new one starting with an empty
    record can at worst spend one more share in its first hour."""

    spent: dict[str, deque] = field(default_factory=dict)
    resting_until: dict[str, float] = field(default_factory=dict)

    def allowance(self) -> int:
        return int(settings.MONITOR_API_SHARE * settings.DIGITALOCEAN_HOURLY_LIMIT)

    def used(self, token: str, now: float) -> int:
        calls = self.spent.setdefault(token, deque())
        while calls and calls[0][0] < now - WINDOW:
            calls.popleft()
        return sum(n for _, n in calls)

    def why_not(self, token: str, now: float) -> str | None:
        if self.resting_until.get(token, 0) > now:
            return "DigitalOcean reported few requests left for this token; resting"
        if self.used(token, now) + CALLS_PER_CHECK > self.allowance():
            return (
                f"the drift check's share of the token's budget ({self.allowance()} requests "
                "per hour) is spent"
            )
        return None

    def spend(self, token: str, calls: int, remaining: int | None, now: float) -> None:
        self.spent.setdefault(token, deque()).append((now, calls))
        if remaining is not None and remaining < settings.MONITOR_API_RESERVE:
            self.resting_until[token] = now + max(60.0, 10 * settings.MONITOR_INTERVAL)


BUDGET = TokenBudget()


@dataclass
class TokenReport:
    provisions: int
    api_calls: int = 0
    skipped: str | None = None
    findings: list[str] = field(default_factory=list)


def checked_provisions():
    """Provisions worth comparing: deployed, no job at work on them (a job's own changes are
    not drift), with a provider token."""
    return (
        Provision.objects.filter(state__in=[ProvisionState.RUNNING, ProvisionState.ERROR])
        .exclude(jobs__state__in=JOB_LIVE)
        .select_related("provider")
        .distinct()
    )


def check_all(budget: TokenBudget = BUDGET) -> list[TokenReport]:
    by_token: dict[str, list[Provision]] = {}
    for provision in checked_provisions():
        if provision.provider.has_token:
            by_token.setdefault(provision.provider.get_token(), []).append(provision)
    return [check_token(token, group, budget) for token, group in by_token.items()]


def check_token(token: str, provisions: list[Provision], budget: TokenBudget) -> TokenReport:
    report = TokenReport(provisions=len(provisions))
    # The budget's record is keyed by a digest: the token itself stays out of long-lived state.
    key = hashlib.sha256(token.encode()).hexdigest()
    now = time.monotonic()
    report.skipped = budget.why_not(key, now)
    if report.skipped:
        log.info("drift check skipped for %s provision(s): %s", len(provisions), report.skipped)
        return report
    # Few retries: a failed check is simply tried again next cycle. No pacing either: the
    # check has its own budget and rests when DigitalOcean says few requests are left.
    driver = DigitalOceanDriver(token, retries=1, pace=False)
    try:
        droplets = {d["id"]: d for d in driver.droplets(tag=settings.DIGITALOCEAN_PORTAL_TAG)}
        vpcs = {str(v["id"]) for v in driver.vpcs()}
        firewalls = {str(f["id"]): f for f in driver.firewalls()}
    except CloudError as exc:
        report.skipped = f"DigitalOcean did not answer the drift check: {exc}"
        log.warning("%s", report.skipped)
        return report
    finally:
        report.api_calls = driver.api_calls
        budget.spend(key, driver.api_calls, driver.ratelimit_remaining, now)

    def confirm(droplet_id: int) -> dict | None:
        """A droplet missing from the tagged listing, asked for by ID before it is called
        gone (one call, only on suspicion): droplets made before the portal tagged them all
        are not in the listing."""
        before = driver.api_calls
        try:
            return driver.get_droplet(droplet_id)
        except NotFound:
            return None
        except CloudError:
            return {"status": "unknown"}  # no answer: no judgement this cycle
        finally:
            report.api_calls += driver.api_calls - before
            budget.spend(key, driver.api_calls - before, driver.ratelimit_remaining, now)

    for provision in provisions:
        report.findings += compare(provision, droplets, vpcs, firewalls, confirm)
    return report


def compare(provision: Provision, droplets: dict, vpcs: set, firewalls: set, confirm) -> list[str]:
    findings = []
    ledger = CloudResource.objects.filter(provision=provision, state=ResourceState.CREATED)
    for row in ledger.filter(kind__in=[ResourceKind.VPC, ResourceKind.FIREWALL], owned=True):
        seen = vpcs if row.kind == ResourceKind.VPC else firewalls
        if row.cloud_id and row.cloud_id not in seen:
            findings.append(f"{row.get_kind_display()} {row.name} deleted outside the portal")
        elif row.kind == ResourceKind.FIREWALL and row.data.get("applied"):
            changed = rules.difference(row.data["applied"], seen[row.cloud_id])
            if changed != "no change":
                findings.append(f"Firewall {row.name} rules changed outside the portal: {changed}")
    hosts = provision.hosts.filter(state__in=[HostState.RUNNING, HostState.ERROR]).exclude(
        droplet_id=None
    )
    for host in hosts:
        droplet = droplets.get(host.droplet_id) or confirm(host.droplet_id)
        if droplet is None:
            problem, why = HostProblem.DROPLET_GONE, "droplet deleted outside the portal"
            metering.droplet_ended(host.droplet_id)
        elif droplet.get("status") == "off":
            problem, why = HostProblem.DROPLET_OFF, "droplet off"
        else:
            continue
        findings.append(f"{host.name}: {why} (droplet {host.droplet_id})")
        _host_broken(host, problem, why)
    Provision.objects.filter(pk=provision.pk).update(
        drift=findings, drift_checked_at=timezone.now()
    )
    return findings


def _host_broken(host: Host, problem: str, why: str) -> None:
    if host.problem == problem:
        return
    if host.problem in (HostProblem.DROPLET_GONE, HostProblem.FENCED):
        # A droplet that is gone stays the reason until a Repair; a fenced one is off or gone
        # on purpose, its VMs recovered elsewhere.
        return
    vms = list(VM.objects.filter(host=host))
    # Conditional on the droplet seen: a Repair that replaced it meanwhile is not undone.
    if observe.set_host_state(host, HostState.ERROR, problem, why, droplet_id=host.droplet_id):
        observe.vms_unknown(vms, f"its host {host.name}: {why}")
