"""What DigitalOcean bills: each droplet's price per started hour of its life, capped at its
monthly price in a calendar month (UTC), summed as the customer balance's
`month_to_date_usage`. Kept apart from the droplets so a deleted droplet still counts."""

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


@dataclass
class Billed:
    hourly: Decimal
    monthly: Decimal
    start: datetime
    end: datetime | None = None


def _month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class Meter:
    def __init__(self):
        self.lock = threading.Lock()
        self.droplets: dict[int, Billed] = {}

    def started(self, droplet_id: int, size: dict, at: datetime | None = None) -> None:
        with self.lock:
            self.droplets[droplet_id] = Billed(
                Decimal(str(size["price_hourly"])),
                Decimal(str(size["price_monthly"])),
                at or datetime.now(UTC),
            )

    def ended(self, droplet_id: int, at: datetime | None = None) -> None:
        with self.lock:
            if droplet_id in self.droplets:
                self.droplets[droplet_id].end = at or datetime.now(UTC)

    def month_to_date(self, now: datetime | None = None) -> Decimal:
        now = now or datetime.now(UTC)
        month = _month_start(now)
        total = Decimal(0)
        with self.lock:
            for billed in self.droplets.values():
                start, end = max(billed.start, month), min(billed.end or now, now)
                if end <= start:
                    continue
                hours = math.ceil((end - start) / timedelta(hours=1))
                total += min(billed.hourly * hours, billed.monthly)
        return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def balance(self, now: datetime | None = None) -> dict:
        now = now or datetime.now(UTC)
        usage = self.month_to_date(now)
        return {
            "month_to_date_balance": str(usage),
            "account_balance": "0.00",
            "month_to_date_usage": str(usage),
            "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
