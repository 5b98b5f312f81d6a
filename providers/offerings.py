"""What DigitalOcean offers in a provider's region: droplet size and image slugs, cached.

A provision's size and image are checked here before anything is created, so a typo is a 400
on the form instead of a job that fails after it has made a VPC and a key. The lists change
rarely and are the same for every account, so one cached copy per endpoint and region serves
every provider (DIGITALOCEAN_CATALOG_TTL seconds).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from providers import prices
from providers.drivers import CloudError
from providers.models import Provider

KINDS = ("size", "image")


def _cache_key(kind: str, region: str) -> str:
    endpoint = hashlib.sha256(settings.DIGITALOCEAN_API_URL.encode()).hexdigest()[:16]
    return f"do-offerings:{endpoint}:{region}:{kind}"


def _fetch(provider: Provider, kind: str) -> list[str]:
    from providers.services import driver_for

    driver = driver_for(provider)
    if kind == "size":
        sizes = driver.sizes()
        prices.remember(sizes)
        return sorted(
            size["slug"]
            for size in sizes
            if size.get("available", True) and provider.region in size.get("regions", [])
        )
    return sorted(
        image["slug"]
        for image in driver.images()
        if image.get("slug") and provider.region in image.get("regions", [])
    )


def offered(provider: Provider, kind: str) -> list[str]:
    """The `kind` ("size" or "image") slugs DigitalOcean offers in the provider's region."""
    key = _cache_key(kind, provider.region)
    slugs = cache.get(key)
    if slugs is None:
        try:
            slugs = _fetch(provider, kind)
        except CloudError as exc:
            raise ValidationError(
                {
                    kind: f"cannot check the {kind} with DigitalOcean now ({exc}); "
                    "try again, or pick one of the provider's options"
                }
            ) from None
        cache.set(key, slugs, settings.DIGITALOCEAN_CATALOG_TTL)
    return slugs


def check_offered(provider: Provider, kind: str, slug: str) -> None:
    slugs = offered(provider, kind)
    if slug not in slugs:
        shown = ", ".join(slugs[:12]) + (", …" if len(slugs) > 12 else "")
        raise ValidationError(
            {
                kind: f"{slug!r} is not a DigitalOcean {kind} offered in {provider.region}; "
                f"choose one of {shown}"
            }
        )
