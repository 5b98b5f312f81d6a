"""costs' side of monitoring.cyclehooks and core.quotas: the balance check and the budgets'
warnings after a monitoring cycle, a group budget's hard stop and SPEND in every reservation."""

from core import quotas
from costs import balance, budgets, quota_counters
from monitoring import cyclehooks


def register() -> None:
    cyclehooks.cycle_ended.register(balance.cycle_ended)
    cyclehooks.cycle_ended.register(budgets.cycle_ended)
    quotas.register_check(budgets.check_hard_stop)
    quota_counters.register()
