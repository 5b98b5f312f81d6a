"""Costs against the simulator: droplet lives metered as the jobs make and delete droplets,
reports per provision and user, VM shares, and DigitalOcean's own month-to-date figure."""

from decimal import Decimal
from importlib import import_module

import pytest
import requests
from django.apps import apps
from django.utils import timezone

from costs import balance, reports
from monitoring import drift
from providers.billing import Life, cost_of
from provisions import services
from provisions.models import MeteredDroplet
from tests.costs.helpers import HOURLY, MONTHLY, metered
from tests.helpers import run_queued
from vms.models import VM

pytestmark = pytest.mark.django_db(transaction=True)


def deployed(owner, provider, name="edge", hosts=2):
    provision = services.create_provision(
        owner, provider=provider, name=name, host_count=hosts, size="s-1vcpu-1gb"
    )
    return run_queued(provision)


def sim_balance(sim) -> Decimal:
    answer = requests.get(
        f"{sim.url}/v2/customers/my/balance",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["month_to_date_usage"])


def test_droplets_are_metered_with_digitaloceans_prices(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = deployed(owner, sim_provider)
    meters = list(provision.meters.order_by("host_name"))
    assert [m.droplet_id for m in meters] == sorted(
        str(h.droplet_id) for h in provision.hosts.order_by("name")
    )
    assert {(m.size, m.price_hourly, m.price_monthly) for m in meters} == {
        ("s-1vcpu-1gb", HOURLY, MONTHLY)
    }
    assert all(m.ended_at is None for m in meters)
    # A run again (retry, repair) adopts the droplets and meters nothing twice.
    services.configure_provision(owner, provision, force=True)
    run_queued(provision)
    assert provision.meters.count() == 2

    costs, unpriced = reports.by_provision([provision])
    assert unpriced == 0
    assert costs[provision.pk].month_to_date == 2 * HOURLY  # both in their first hour
    assert costs[provision.pk].hourly == 2 * HOURLY
    # DigitalOcean's own figure for the account says the same.
    assert sim_balance(sim) == (2 * HOURLY).quantize(Decimal("0.01"))


def test_removed_deleted_and_lost_droplets_stop_costing(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = deployed(owner, sim_provider, hosts=3)
    first, second, third = provision.hosts.order_by("id")
    services.remove_host(owner, provision, third)
    run_queued(provision)
    assert MeteredDroplet.objects.get(droplet_id=third.droplet_id).ended_at is not None

    requests.delete(
        f"{sim.url}/v2/droplets/{second.droplet_id}",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    ).raise_for_status()
    drift.check_all(drift.TokenBudget())
    lost = MeteredDroplet.objects.get(droplet_id=second.droplet_id)
    assert lost.ended_at is not None
    # Repair makes the droplet again: a new life, the old one kept.
    services.repair_provision(owner, provision)
    run_queued(provision)
    second.refresh_from_db()
    assert str(second.droplet_id) != lost.droplet_id
    assert provision.meters.filter(host_name=second.name).count() == 2

    services.delete_provision(owner, provision)
    run_queued(provision)
    assert not provision.meters.filter(ended_at=None).exists()
    assert reports.by_provision([provision])[0][provision.pk].hourly == 0


def test_the_balance_check_compares_each_token_with_digitalocean(
    sim, sim_provider, owner, hosts_configure_without_ssh, settings
):
    settings.COST_BALANCE_THRESHOLD = 0.5
    deployed(owner, sim_provider)
    [check] = balance.check_all()
    assert check.providers == sim_provider.name
    assert check.portal_usd == check.digitalocean_usd == Decimal("0.02")
    assert balance.out_of_step() == []
    # Droplets made outside the portal on the same account: DigitalOcean bills them, the
    # portal knows nothing of them, and operators are shown the difference.
    for batch in range(6):  # 10 per request at most
        answer = requests.post(
            f"{sim.url}/v2/droplets",
            json={
                "names": [f"by-hand-{batch}-{n}" for n in range(10)],
                "region": "nyc3",
                "size": "s-1vcpu-1gb",
                "image": "debian-12-x64",
            },
            headers={"Authorization": "Bearer lab-token"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
    [check] = balance.check_all()
    assert check.digitalocean_usd == (62 * HOURLY).quantize(Decimal("0.01"))
    assert check.digitalocean_usd - check.portal_usd == Decimal("0.53")
    assert balance.out_of_step() == [check]


def test_a_balance_that_cannot_be_read_is_an_error_on_the_check(sim, owner):
    from tests.factories import make_provider

    make_provider(owner, name="revoked", token="dop_v1_revoked")
    [check] = balance.check_all()
    assert check.digitalocean_usd is None
    assert "could not be read" in check.error
    assert balance.out_of_step() == [check]


def test_vm_shares_and_idle_capacity_add_up_to_the_hosts_cost(owner, cluster, template):
    from vms import services as vm_services

    now = timezone.now()
    host = cluster.hosts.order_by("id").first()
    metered(cluster, now - timezone.timedelta(hours=5))
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(host=host, cpu=2, memory_mb=1024)
    found = reports.of_provision(cluster, now)
    shares, idle = found.shares, found.idle
    [share] = shares
    host_cost = cost_of([Life(HOURLY, MONTHLY, now - timezone.timedelta(hours=5))], now)
    # 2 of the host's 8 CPUs (2 x overcommit 4) and 1024 of its usable memory.
    memory_total = next(d for d in reports.capacity.DIMENSIONS if d.name == "memory").total(host)
    weight = (Decimal(2) / 8 + Decimal(1024) / memory_total) / 2
    assert share.cost.month_to_date == host_cost.month_to_date * weight
    total = share.cost.month_to_date + idle.month_to_date
    assert total == 2 * host_cost.month_to_date


def test_droplets_made_before_metering_are_metered_from_the_ledger(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = deployed(owner, sim_provider)
    rows = {r.cloud_id: r for r in provision.resources.filter(kind="droplet")}
    MeteredDroplet.objects.all().delete()
    migration = import_module("provisions.migrations.0013_droplet_meters")
    migration.meter_existing_droplets(apps, None)
    meters = list(provision.meters.all())
    assert {m.droplet_id: m.started_at for m in meters} == {
        k: r.created_at for k, r in rows.items()
    }
    assert all(m.price_hourly is None for m in meters)
    # Priced today, from DigitalOcean's list.
    costs, unpriced = reports.by_provision([provision])
    assert (costs[provision.pk].hourly, unpriced) == (2 * HOURLY, 0)


def test_a_monitoring_cycle_starts_the_balance_check_once_per_interval(
    sim, sim_provider, owner, hosts_configure_without_ssh, settings
):
    from monitoring import cycle

    settings.COST_BALANCE_INTERVAL = 3600
    settings.JOBS_SYNC = True
    deployed(owner, sim_provider)
    cycle.run_cycle(with_drift=False)
    [check] = balance.BalanceCheck.objects.all()
    first = check.checked_at
    cycle.run_cycle(with_drift=False)  # within the interval: not again
    check.refresh_from_db()
    assert check.checked_at == first
    assert check.portal_usd == check.digitalocean_usd
