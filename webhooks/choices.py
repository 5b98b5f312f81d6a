from django.db import models


class WebhookEvent(models.TextChoices):
    """What a webhook may ask to be told of (its `events`), and the `event` of each body."""

    VM_STATE = "vm.state", "a VM changed state"
    PROVISION_STATE = "provision.state", "a provision changed state"
    HOST_ERROR = "host.error", "a host went to ERROR"
    QUOTA_WARNING = "quota.warning", "a quota crossed its warning level"
    BUDGET_WARNING = "budget.warning", "the month's projected spend crossed the budget"


# Sent when asked for (`ping`), whatever the webhook's events: never subscribed to.
PING = "ping"


class DeliveryState(models.TextChoices):
    # PENDING until the receiver answers 2xx (DELIVERED) or the last try fails (FAILED).
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


DELIVERY_TERMINAL = (DeliveryState.DELIVERED, DeliveryState.FAILED)

DELIVERY_COLOURS = {
    DeliveryState.PENDING: "blue",
    DeliveryState.DELIVERED: "green",
    DeliveryState.FAILED: "red",
}
