"""The month's projected spend of a user's or a group's clusters, for core.quotas' SPEND."""

from core import quotas
from costs import reports
from provisions.models import Provision


def spend(whose):
    return reports.total(Provision.objects.filter(**whose.filter()))[0].projected


def register() -> None:
    quotas.register_counter("spend", spend)
