"""DigitalOcean's billing arithmetic on a frozen clock: per started hour, capped monthly."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from providers.billing import Cost, Life, cost_of, month_bounds, started_hours

HOURLY, MONTHLY = Decimal("0.00893"), Decimal("6.00")  # s-1vcpu-1gb


def at(day, hour=0, minute=0, month=3):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_a_started_hour_is_billed_whole():
    start = at(10, 10, 0)
    assert started_hours(start, start) == 0
    assert started_hours(start, start + timedelta(seconds=1)) == 1
    assert started_hours(start, at(10, 11, 0)) == 1
    assert started_hours(start, at(10, 11, 1)) == 2
    life = Life(HOURLY, MONTHLY, start)
    assert life.month_to_date(at(10, 10, 59)) == HOURLY
    assert life.month_to_date(at(10, 11, 1)) == 2 * HOURLY


def test_the_month_caps_a_droplet_at_its_monthly_price():
    life = Life(HOURLY, MONTHLY, at(1))
    # 672 hours reach the monthly price; a 744-hour month costs no more.
    assert life.month_to_date(at(28, 23, 59, month=2)) == Decimal(0)  # not yet alive
    assert life.month_to_date(at(29)) == min(HOURLY * 672, MONTHLY)
    assert life.month_to_date(at(31, 23, 59)) == MONTHLY
    assert life.projected(at(2)) == MONTHLY


def test_a_droplet_from_last_month_counts_from_this_months_start():
    life = Life(HOURLY, MONTHLY, at(20, month=2))
    assert month_bounds(at(5)) == (at(1), at(1, month=4))
    assert life.month_to_date(at(1, 2, 30)) == 3 * HOURLY


def test_a_host_added_mid_month_is_projected_for_what_is_left():
    now = at(20, 12)
    first = Life(HOURLY, MONTHLY, at(1))
    added = Life(HOURLY, MONTHLY, at(20, 11, 30))
    total = cost_of([first, added], now)
    left_of_month = (at(1, month=4) - at(20, 11, 30)) / timedelta(hours=1)
    assert left_of_month == 276.5
    assert total.month_to_date == min(HOURLY * (19 * 24 + 12), MONTHLY) + HOURLY
    assert total.projected == MONTHLY + HOURLY * 277
    assert total.hourly == 2 * HOURLY


def test_an_ended_droplet_is_projected_at_what_it_cost():
    life = Life(HOURLY, MONTHLY, at(3, 8), at(3, 10, 30))
    now = at(15)
    assert life.month_to_date(now) == 3 * HOURLY
    assert life.projected(now) == 3 * HOURLY
    assert cost_of([life], now).hourly == 0


def test_costs_add_and_scale_and_print_as_dollars():
    cost = Cost(Decimal("1.005"), Decimal("6"), Decimal("0.00893")) + Cost(
        Decimal("1"), Decimal("6"), Decimal("0.00893")
    )
    assert cost.as_dict() == {"month_to_date": "2.01", "projected": "12.00", "hourly": "0.01786"}
    assert cost.scaled(Decimal("0.5")).projected == Decimal("6.0")
