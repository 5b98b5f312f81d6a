"""What droplets cost, from DigitalOcean itself: `/v2/sizes` `price_hourly` and
`price_monthly`, cached like the size lists (DIGITALOCEAN_CATALOG_TTL seconds, one copy per
endpoint: prices are the same in every region and account).

DigitalOcean bills a droplet its hourly price per started hour, and never more than its
monthly price in one calendar month; `estimate` is that arithmetic for hosts about to be made.
"""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from providers.drivers import CloudError
from providers.models import Provider


@dataclass(frozen=True)
class Price:
    hourly: Decimal
    monthly: Decimal


@dataclass(frozen=True)
class Estimate:
    count: int
    size: str
    hourly: Decimal
    monthly: Decimal

    @property
    def line(self) -> str:
        """`4 x s-1vcpu-1gb = $0.0357/h, $24.00/month`"""
        return (
            f"{self.count} x {self.size} = ${self.hourly.quantize(Decimal('0.0001'))}/h, "
            f"${self.monthly.quantize(Decimal('0.01'))}/month"
        )

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "size": self.size,
            "hourly": str(self.hourly.quantize(Decimal("0.00001"))),
            "monthly": str(self.monthly.quantize(Decimal("0.01"))),
            "line": self.line,
        }


def _cache_key(kind: str) -> str:
    endpoint = hashlib.sha256(settings.DIGITALOCEAN_API_URL.encode()).hexdigest()[:16]
    return f"do-prices:{endpoint}:{kind}"


def _prices(cached: dict) -> dict[str, Price]:
    return {slug: Price(Decimal(h), Decimal(m)) for slug, (h, m) in cached.items()}


def price_list(provider: Provider) -> dict[str, Price]:
    """Every size's price, asking DigitalOcean when the cached list is older than the TTL;
    raises CloudError (or ValidationError: no token) when it cannot be asked."""
    cached = cache.get(_cache_key("fresh"))
    if cached is None:
        from providers.services import driver_for

        cached = remember(driver_for(provider).sizes())
    return _prices(cached)


def remember(sizes: list[dict]) -> dict:
    """Keep the prices of a `/v2/sizes` answer (whoever asked for it)."""
    cached = {
        size["slug"]: (str(size["price_hourly"]), str(size["price_monthly"]))
        for size in sizes
        if "price_hourly" in size and "price_monthly" in size
    }
    cache.set(_cache_key("fresh"), cached, settings.DIGITALOCEAN_CATALOG_TTL)
    cache.set(_cache_key("known"), cached, None)
    return cached


def price_of(provider: Provider, size: str) -> Price | None:
    """The size's price, or None when DigitalOcean cannot say now (or has no such size)."""
    try:
        return price_list(provider).get(size)
    except (CloudError, ValidationError):  # DigitalOcean down, or the provider has no token
        return known_price(size)


def known_price(size: str) -> Price | None:
    """The size's last price the portal was told, without asking DigitalOcean: for pages and
    API answers that must not wait on it (None when never told)."""
    return _prices(cache.get(_cache_key("known")) or {}).get(size)


def estimate(provider: Provider, size: str, count: int, *, ask: bool = True) -> Estimate | None:
    """What `count` droplets of `size` cost; with ask=False only from the last known prices."""
    price = price_of(provider, size) if ask else known_price(size)
    if price is None or count < 1:
        return None
    return Estimate(count, size, price.hourly * count, price.monthly * count)
