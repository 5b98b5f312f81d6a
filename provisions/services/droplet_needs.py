"""What new droplets take of their owner's and group's quotas (core.quotas): hosts, and the
money they will cost in the rest of this month, as DigitalOcean bills it (providers.billing)."""

from django.utils import timezone

from providers import prices
from providers.billing import Life
from providers.models import Provider


def droplet_needs(provider: Provider, size: str, count: int) -> dict:
    """Asked before the transaction that reserves them (DigitalOcean may be asked for the
    price). A price nobody can say now counts as nothing: the spend is then refused only when
    the month's is already at its limit."""
    found = prices.estimate(provider, size, count)
    now = timezone.now()
    spend = Life(found.hourly, found.monthly, now).projected(now) if found else 0
    return {"hosts": count, "spend": spend}
