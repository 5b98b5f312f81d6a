"""costs' side of monitoring.cyclehooks: the balance check after a monitoring cycle."""

from costs import balance
from monitoring import cyclehooks


def register() -> None:
    cyclehooks.cycle_ended.register(balance.cycle_ended)
