"""Droplet lives for the bill: written where droplets are made, adopted, deleted or found gone,
read by the cost reports. Idempotent, so a job run again records nothing twice."""

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from providers import prices
from provisions.models import Host, MeteredDroplet, Provision


def _when(value) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed or timezone.now()


def droplet_started(provision: Provision, host: Host, droplet: dict) -> None:
    """A droplet of `host` exists: billed from DigitalOcean's `created_at` (a droplet adopted
    after a crash was billed before the portal confirmed it)."""
    if MeteredDroplet.objects.filter(droplet_id=str(droplet["id"])).exists():
        return
    price = prices.price_of(provision.provider, provision.size)
    MeteredDroplet.objects.get_or_create(
        droplet_id=str(droplet["id"]),
        defaults={
            "provision": provision,
            "host": host,
            "host_name": host.name,
            "size": provision.size,
            "price_hourly": price.hourly if price else None,
            "price_monthly": price.monthly if price else None,
            "started_at": _when(droplet.get("created_at")),
        },
    )


def droplet_ended(droplet_id, at: datetime | None = None) -> None:
    """The droplet is deleted, or found gone (then billed until the portal noticed)."""
    if droplet_id:
        MeteredDroplet.objects.filter(droplet_id=str(droplet_id), ended_at=None).update(
            ended_at=at or timezone.now()
        )


def provision_ended(provision: Provision, at: datetime | None = None) -> None:
    MeteredDroplet.objects.filter(provision=provision, ended_at=None).update(
        ended_at=at or timezone.now()
    )
