"""DigitalOcean's billing arithmetic, on plain values: a droplet costs its hourly price per
started hour of its life, and never more than its monthly price in one calendar month (UTC).

`month_to_date` is what a droplet has cost so far this month; `projected` what it will have
cost at the month's end if it keeps running (its month-to-date if it has ended).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

HOUR = timedelta(hours=1)
ZERO = Decimal(0)


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) that `at` falls in: [start, end)."""
    at = at.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def started_hours(start: datetime, end: datetime) -> int:
    """Hours begun between `start` and `end`: 1 for a minute, 2 for 61 minutes, 0 for none."""
    if end <= start:
        return 0
    return math.ceil((end - start) / HOUR)


@dataclass(frozen=True)
class Life:
    """One droplet's billable life and its price."""

    hourly: Decimal
    monthly: Decimal
    started_at: datetime
    ended_at: datetime | None = None

    def month_to_date(self, now: datetime) -> Decimal:
        start, _ = month_bounds(now)
        end = min(self.ended_at or now, now)
        hours = started_hours(max(self.started_at, start), end)
        return min(self.hourly * hours, self.monthly)

    def projected(self, now: datetime) -> Decimal:
        if self.ended_at is not None and self.ended_at <= now:
            return self.month_to_date(now)
        start, end = month_bounds(now)
        hours = started_hours(max(self.started_at, start), end)
        return min(self.hourly * hours, self.monthly)

    def running(self, now: datetime) -> bool:
        return self.started_at <= now and (self.ended_at is None or self.ended_at > now)


@dataclass(frozen=True)
class Cost:
    """Money for a set of droplets: this month so far, the month's projection, and what the
    running ones cost per hour now."""

    month_to_date: Decimal = ZERO
    projected: Decimal = ZERO
    hourly: Decimal = ZERO

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.month_to_date + other.month_to_date,
            self.projected + other.projected,
            self.hourly + other.hourly,
        )

    def scaled(self, share: Decimal) -> "Cost":
        return Cost(self.month_to_date * share, self.projected * share, self.hourly * share)

    def as_dict(self) -> dict:
        return {
            "month_to_date": money(self.month_to_date),
            "projected": money(self.projected),
            "hourly": str(self.hourly.quantize(Decimal("0.00001"))),
        }


def cost_of(lives, now: datetime) -> Cost:
    total = Cost()
    for life in lives:
        total += Cost(
            life.month_to_date(now),
            life.projected(now),
            life.hourly if life.running(now) else ZERO,
        )
    return total


def money(value: Decimal) -> str:
    """Dollars as DigitalOcean writes them: two decimals, half up."""
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
