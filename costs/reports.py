"""What provisions, users and VMs cost: month to date, the month's projection, and the hourly
rate now, from the droplet lives provisions records (provisions.metering) and DigitalOcean's
prices. Every report reads the meters in one query, whatever the number of provisions.

A VM's share of its host's cost is by what it reserves: the mean of its share of the host's
CPU and of its memory (vms.capacity's totals), taken as it stands now and applied to the
host's month. What no VM reserves is the host's idle capacity, shown as such so a team sees
what empty room costs it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from providers import prices
from providers.billing import ZERO, Cost, Life, cost_of, month_bounds
from provisions.models import MeteredDroplet, Provision
from vms import capacity
from vms.choices import VMState
from vms.models import VM


@dataclass
class Lives:
    """Meters as billable lives; `unpriced` counts droplets whose price nobody can say (their
    size's price was not known when made and DigitalOcean cannot be asked now)."""

    by_provision: dict = field(default_factory=lambda: defaultdict(list))
    by_host: dict = field(default_factory=lambda: defaultdict(list))
    unpriced: int = 0


def _lives(meters) -> Lives:
    found = Lives()
    today: dict[tuple[int, str], prices.Price | None] = {}
    for meter in meters:
        hourly, monthly = meter.price_hourly, meter.price_monthly
        if hourly is None or monthly is None:
            key = meter.size
            if key not in today:
                today[key] = prices.known_price(meter.size)
            if today[key] is None:
                found.unpriced += 1
                continue
            hourly, monthly = today[key].hourly, today[key].monthly
        life = Life(hourly, monthly, meter.started_at, meter.ended_at)
        found.by_provision[meter.provision_id].append(life)
        found.by_host[meter.host_id].append(life)  # None: its host row is gone
    return found


def _month_meters(provisions, now: datetime):
    """Meters of these provisions that were alive at some point this month."""
    start, _ = month_bounds(now)
    return (
        MeteredDroplet.objects.filter(provision__in=provisions, started_at__lte=now)
        .exclude(ended_at__lt=start)
        .select_related("provision__provider")
    )


def by_provision(provisions, now: datetime | None = None) -> tuple[dict[int, Cost], int]:
    """Each provision's Cost (by ID; one with no droplet this month is absent), and how many
    droplets could not be priced."""
    now = now or timezone.now()
    lives = _lives(_month_meters(provisions, now))
    return {pk: cost_of(found, now) for pk, found in lives.by_provision.items()}, lives.unpriced


def total(provisions, now: datetime | None = None) -> tuple[Cost, int]:
    costs, unpriced = by_provision(provisions, now)
    return sum(costs.values(), Cost()), unpriced


def of_user(user, now: datetime | None = None) -> tuple[Cost, int]:
    """What the user's own provisions cost (an operator's too: not everyone's)."""
    return total(Provision.objects.filter(owner=user), now)


@dataclass(frozen=True)
class Share:
    vm: VM
    cost: Cost


@dataclass(frozen=True)
class ProvisionCost:
    cost: Cost | None  # None: no droplet this month
    unpriced: int
    shares: list[Share]
    idle: Cost


def of_provision(provision: Provision, now: datetime | None = None) -> ProvisionCost:
    """The provision's cost, its VMs' shares and its idle capacity (three queries)."""
    now = now or timezone.now()
    lives = _lives(_month_meters([provision], now))
    shares, idle = _shares(provision, lives, now)
    found = lives.by_provision.get(provision.pk)
    return ProvisionCost(cost_of(found, now) if found else None, lives.unpriced, shares, idle)


def _shares(provision: Provision, lives: Lives, now: datetime) -> tuple[list[Share], Cost]:
    """The cost of each VM on the provision's hosts, and the idle rest: together, the
    provision's cost (a droplet whose host row is gone counts as idle)."""
    cpu, memory = (d for d in capacity.DIMENSIONS if d.name in ("cpu", "memory"))
    vms_by_host = defaultdict(list)
    vms = VM.objects.filter(host__provision=provision).exclude(state=VMState.DONE)
    for vm in vms.select_related("host").order_by("id"):
        vms_by_host[vm.host_id].append(vm)
    shares, idle = [], Cost()
    for host_id in sorted(set(lives.by_host) | set(vms_by_host), key=lambda pk: pk or 0):
        host_cost = cost_of(lives.by_host.get(host_id, []), now)
        taken = ZERO
        for vm in vms_by_host.get(host_id, []):
            host = vm.host
            weight = (
                _fraction(vm.cpu, cpu.total(host)) + _fraction(vm.memory_mb, memory.total(host))
            ) / 2
            weight = min(weight, Decimal(1) - taken)
            taken += weight
            shares.append(Share(vm, host_cost.scaled(weight)))
        idle += host_cost.scaled(Decimal(1) - taken)
    return shares, idle


def _fraction(part, whole: Decimal) -> Decimal:
    if not whole or not whole.is_finite():
        return ZERO
    return min(Decimal(str(part or 0)) / whole, Decimal(1))
