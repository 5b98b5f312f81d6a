"""What a user's or a group's clusters take of their quotas (core.quotas): their hosts, each a
droplet that costs money from the moment its row exists until it is removed."""

from core import quotas
from provisions.choices import HostState, ProvisionState
from provisions.models import Host


def hosts(whose) -> int:
    return (
        Host.objects.filter(**whose.filter("provision__"))
        .exclude(state=HostState.REMOVED)
        .exclude(provision__state=ProvisionState.DONE)
        .count()
    )


def register() -> None:
    quotas.register_counter("hosts", hosts)
