"""Hosts moved by jobs and operations, each change with its HostEvent (core.transitions)."""

from core.transitions import InvalidTransition, transition
from provisions.choices import HostState
from provisions.models import Host


def move_hosts(
    hosts, to: str, *, source: str, actor=None, reason: str = "", also: dict | None = None
) -> list[Host]:
    """Each host of `hosts` not in `to` yet goes there from whatever state it is in (a job or
    an operation decides, where monitoring only reports), with `also` set and an event each.
    Returns the hosts moved; one that reached `to` meanwhile is left as it is."""
    moved = []
    for host in hosts:
        if host.state == to:
            continue
        try:
            transition(
                host,
                to,
                set(HostState) - {to},
                source=source,
                actor=actor,
                reason=reason,
                also=also,
            )
        except InvalidTransition:
            continue
        moved.append(host)
    return moved
