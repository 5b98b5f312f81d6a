"""django-q2 entry points (thin): a delivery's first try, and the retries due."""

from webhooks import delivery


def deliver(pk: int) -> None:
    delivery.attempt(pk)


def deliver_due() -> int:
    return delivery.deliver_due()
