"""webhooks' side of core.signals and monitoring.cyclehooks: the events listened to, and the
retries sent after each monitoring cycle (registered in ready())."""

from core import signals
from monitoring import cyclehooks
from webhooks import delivery, events


def register() -> None:
    signals.state_changed.connect(events.on_state_changed, dispatch_uid="webhooks.state")
    signals.quota_warning.connect(events.on_quota_warning, dispatch_uid="webhooks.quota")
    signals.budget_warning.connect(events.on_budget_warning, dispatch_uid="webhooks.budget")
    cyclehooks.cycle_ended.register(delivery.cycle_ended)
