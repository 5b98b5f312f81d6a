"""Group budgets: what a group's clusters cost this month against the money it has for it.

The projection is the month's (costs.reports: every droplet running to the month's end, as
DigitalOcean would bill it). A hard stop refuses, inside the quota reservation
(core.quotas.register_check), any new droplet that would take the projection past the budget;
the warnings (core.signals.budget_warning) are sent after a monitoring cycle, once per level
per month.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from core import signals
from core.groups import Role
from core.tenancy import acting_role
from costs import reports
from costs.models import Budget
from providers.billing import Cost, money, month_bounds
from provisions.models import Provision

LEVELS = ("", "warning", "exceeded")


def of_group(group, now: datetime | None = None) -> tuple[Cost, int]:
    """What the group's clusters cost this month, and how many droplets could not be priced."""
    return reports.total(Provision.objects.filter(group=group), now)


@dataclass(frozen=True)
class Standing:
    budget: Budget
    cost: Cost

    @property
    def percent(self) -> int:
        if not self.budget.amount:
            return 100
        return int(self.cost.projected * 100 / self.budget.amount)

    @property
    def level(self) -> str:
        if self.cost.projected > self.budget.amount:
            return "exceeded"
        if self.percent >= self.budget.warn_percent:
            return "warning"
        return ""

    @property
    def text(self) -> str:
        return (
            f"group {self.budget.group.name}: projected ${money(self.cost.projected)} this "
            f"month, {self.percent}% of its ${money(self.budget.amount)} budget"
        )


def standing(budget: Budget, now: datetime | None = None) -> Standing:
    return Standing(budget, of_group(budget.group, now)[0])


def check_hard_stop(user, group, needs: dict, what: str) -> None:
    """core.quotas' extra check: new droplets past a hard-stopped budget are refused."""
    spend = needs.get("spend")
    if group is None or spend is None:
        return
    budget = Budget.objects.filter(group=group, hard_stop=True).first()
    if budget is None:
        return
    projected = of_group(group)[0].projected
    if needs.get("counted"):  # a move: the month already holds what it brought
        projected -= Decimal(spend)
    if projected + Decimal(spend) > budget.amount:
        raise ValidationError(
            f"group {group.name}: projected ${money(projected)} this month, {what} adds "
            f"${money(Decimal(spend))}: more than its ${money(budget.amount)} budget, which "
            "stops new droplets; ask a group admin to raise it or remove hosts"
        )


def warn(now: datetime | None = None) -> list[Standing]:
    """Send each budget's new warning level of the month (once per level); the standings
    that warned."""
    now = now or timezone.now()
    month = month_bounds(now)[0].date()
    sent = []
    for budget in Budget.objects.select_related("group"):
        found = standing(budget, now)
        already = budget.warned_level if budget.warned_month == month else ""
        if LEVELS.index(found.level) <= LEVELS.index(already):
            continue
        Budget.objects.filter(pk=budget.pk).update(warned_month=month, warned_level=found.level)
        signals.budget_warning.send(
            sender=Budget,
            group=budget.group,
            level=found.level,
            projected=found.cost.projected,
            budget=budget.amount,
            text=found.text,
        )
        sent.append(found)
    return sent


def cycle_ended(report) -> None:
    warn()


def _managed(user, group) -> None:
    role = acting_role(user, group.pk)
    if role is None:
        raise Http404(f"group {group.pk} not found")
    if role != Role.ADMIN:
        raise PermissionDenied(
            f"you are a {role} of group {group.name}: only its admins set its budget"
        )


def set_budget(user, group, *, amount, warn_percent=None, hard_stop=None) -> Budget:
    """A group's budget, set by its admins (or operators): the amount in dollars, the warning
    level in percent (default 80) and whether it stops new droplets. A changed budget warns
    again from its new level."""
    _managed(user, group)
    errors = {}
    try:
        amount = Decimal(str(amount).strip().lstrip("$"))
        if not amount.is_finite() or amount < 0 or amount > Decimal("99999999"):
            raise ValueError
        amount = amount.quantize(Decimal("0.01"))
    except (ArithmeticError, ValueError):
        errors["amount"] = f"{amount!r} is not an amount of dollars, e.g. 250 or 99.50"
    if warn_percent is not None:
        try:
            warn_percent = int(warn_percent)
            if not 1 <= warn_percent <= 100:
                raise ValueError
        except (TypeError, ValueError):
            errors["warn_percent"] = "give a percentage of the budget, 1 to 100"
    if errors:
        raise ValidationError(errors)
    fields = {"amount": amount, "warned_level": "", "warned_month": None}
    if warn_percent is not None:
        fields["warn_percent"] = warn_percent
    if hard_stop is not None:
        fields["hard_stop"] = bool(hard_stop)
    budget, _ = Budget.objects.update_or_create(group=group, defaults=fields)
    return budget


def remove_budget(user, group) -> None:
    _managed(user, group)
    Budget.objects.filter(group=group).delete()
