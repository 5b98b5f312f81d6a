from django.db import models


class BalanceCheck(models.Model):
    """The portal's month-to-date cost against DigitalOcean's `month_to_date_usage`, for one
    token (the latest check; providers sharing a token are one DigitalOcean account)."""

    token_fingerprint = models.CharField(max_length=16, unique=True)
    providers = models.CharField(max_length=400, help_text="the providers that use the token")
    checked_at = models.DateTimeField()
    portal_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    digitalocean_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    generated_at = models.CharField(max_length=40, blank=True, help_text="DigitalOcean's time")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["providers"]

    def __str__(self):
        return f"balance of {self.providers}"

    @property
    def difference(self):
        if self.portal_usd is None or self.digitalocean_usd is None:
            return None
        return self.digitalocean_usd - self.portal_usd


class Budget(models.Model):
    """A group's money for one calendar month: a warning once the month's projected spend
    reaches `warn_percent` of it, and, with `hard_stop`, no new droplet that would take the
    projection past it (costs.budgets)."""

    group = models.OneToOneField("core.Group", on_delete=models.CASCADE, related_name="budget")
    amount = models.DecimalField("monthly budget (USD)", max_digits=10, decimal_places=2)
    warn_percent = models.PositiveSmallIntegerField(default=80)
    hard_stop = models.BooleanField(
        default=False, help_text="refuse new droplets once the month's projection would pass it"
    )
    # The warning already sent this month ("", "warning", "exceeded"), so each is sent once.
    warned_month = models.DateField(null=True, blank=True)
    warned_level = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group__name"]

    def __str__(self):
        return f"budget of {self.group}"
