"""The portal's bill against DigitalOcean's: each token's `month_to_date_usage`
(`GET /v2/customers/my/balance`) next to what the portal's meters say the same token's
provisions cost this month. A difference over COST_BALANCE_THRESHOLD is shown to operators as
drift is: droplets made outside the portal, a meter that missed a droplet, a price change.

DigitalOcean's figure covers the whole account (volumes, snapshots, anything made by hand), so
it may rightly be higher; it may also lag, as DigitalOcean generates it periodically.
"""

import hashlib
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from costs import reports
from costs.models import BalanceCheck
from jobs.queue import enqueue_on_commit
from providers.drivers import CloudError
from providers.drivers.digitalocean import DigitalOceanDriver
from providers.models import Provider
from provisions.models import Provision

DUE_KEY = "costs:balance-checked"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def check_all(now=None) -> list[BalanceCheck]:
    """Compare every token's balance now (one request per token)."""
    now = now or timezone.now()
    by_token: dict[str, list[Provider]] = defaultdict(list)
    for provider in Provider.objects.exclude(token_encrypted="").order_by("name"):
        by_token[provider.get_token()].append(provider)
    checks = []
    for token, providers in by_token.items():
        portal, _ = reports.total(Provision.objects.filter(provider__in=providers), now)
        fields = {
            "providers": ", ".join(p.name for p in providers)[:400],
            "checked_at": now,
            "portal_usd": portal.month_to_date.quantize(Decimal("0.01")),
            "error": "",
        }
        try:
            answer = DigitalOceanDriver(token).balance()
            fields["digitalocean_usd"] = Decimal(str(answer["month_to_date_usage"]))
            fields["generated_at"] = str(answer.get("generated_at", ""))[:40]
        except (CloudError, KeyError, InvalidOperation) as exc:
            fields["error"] = f"DigitalOcean's balance could not be read: {exc}"
        check, _ = BalanceCheck.objects.update_or_create(
            token_fingerprint=fingerprint(token), defaults=fields
        )
        checks.append(check)
    BalanceCheck.objects.exclude(token_fingerprint__in=[fingerprint(t) for t in by_token]).delete()
    return checks


def out_of_step() -> list[BalanceCheck]:
    """The checks operators should look at: a difference over the threshold, or an error."""
    threshold = Decimal(str(settings.COST_BALANCE_THRESHOLD))
    return [
        c
        for c in BalanceCheck.objects.all()
        if c.error or (c.difference is not None and abs(c.difference) > threshold)
    ]


def cycle_ended(report) -> None:
    """After a monitoring cycle: when COST_BALANCE_INTERVAL has passed, a task checks the
    balances (on a worker, so a slow DigitalOcean never holds the cycle up). Running twice
    would only write the same rows again."""
    interval = settings.COST_BALANCE_INTERVAL
    if interval <= 0 or not cache.add(DUE_KEY, True, timeout=interval):
        return
    enqueue_on_commit("costs.balance.check_all", task_name="balance check", robust=True)
