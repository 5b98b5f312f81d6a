"""The simulator's customer balance: every droplet's life, deleted ones included, billed per
started hour at its size's published price and capped monthly."""

from datetime import UTC, datetime, timedelta

from lab.docsim import catalog
from lab.docsim.billing import Meter

SIZE = catalog.size("s-2vcpu-4gb")  # $24/month, $0.03571/h


def test_published_prices_are_digitaloceans():
    assert (SIZE["price_monthly"], SIZE["price_hourly"]) == (24, 0.03571)
    assert catalog.size("s-1vcpu-1gb")["price_hourly"] == 0.00893


def test_the_balance_counts_deleted_droplets_and_caps_each_month():
    now = datetime(2026, 5, 30, 12, 0, tzinfo=UTC)  # 708 hours into May
    meter = Meter()
    meter.started(1, SIZE, now - timedelta(minutes=90))  # 2 started hours, still running
    meter.started(2, SIZE, now - timedelta(hours=3))
    meter.ended(2, now - timedelta(hours=2, minutes=30))  # 1 hour, deleted
    meter.started(3, SIZE, datetime(2026, 4, 2, tzinfo=UTC))  # 708 hours of May: capped at 672
    meter.started(4, SIZE, datetime(2026, 4, 2, tzinfo=UTC))
    meter.ended(4, datetime(2026, 4, 30, tzinfo=UTC))  # last month only: nothing now
    expected = 3 * 0.03571 + 24
    assert meter.balance(now)["month_to_date_usage"] == f"{expected:.2f}"
    assert meter.balance(now)["generated_at"] == "2026-05-30T12:00:00Z"
