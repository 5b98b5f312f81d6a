"""One way to change a state (core.transitions): a conditional UPDATE and its event row, and a
lost race raises InvalidTransition for provisions, hosts and VMs alike."""

import pytest

from core.choices import EventSource
from core.transitions import InvalidTransition, transition
from provisions import services
from provisions.choices import HostState, ProvisionState
from provisions.hoststates import move_hosts
from provisions.models import Host

pytestmark = pytest.mark.django_db


def test_it_moves_the_state_and_writes_who_and_why(cluster, owner):
    transition(
        cluster,
        ProvisionState.ERROR,
        {ProvisionState.RUNNING},
        source=EventSource.USER,
        actor=owner,
        reason="broken by hand",
    )
    cluster.refresh_from_db()
    event = cluster.events.last()
    assert cluster.state == ProvisionState.ERROR
    assert (event.source, event.actor, event.from_state, event.to_state, event.reason) == (
        EventSource.USER,
        owner,
        ProvisionState.RUNNING,
        ProvisionState.ERROR,
        "broken by hand",
    )


def test_a_lost_race_raises_and_changes_nothing(cluster):
    host = cluster.hosts.first()
    stale = Host.objects.get(pk=host.pk)
    transition(host, HostState.ERROR, {HostState.RUNNING}, source=EventSource.MONITOR)
    with pytest.raises(InvalidTransition, match="is ERROR; cannot go to REMOVING"):
        transition(stale, HostState.REMOVING, {stale.state}, source=EventSource.JOB)
    assert list(host.events.values_list("to_state", flat=True)) == [HostState.ERROR]


def test_every_host_a_configure_resets_gets_its_event(cluster, owner):
    services.configure_provision(owner, cluster, force=True)
    for host in cluster.hosts.all():
        (event,) = host.events.all()
        assert (event.source, event.actor, event.to_state) == ("user", owner, HostState.INIT)


def test_moving_hosts_leaves_those_already_there_alone(cluster):
    first, second = cluster.hosts.order_by("id")
    move_hosts([first], HostState.REMOVED, source=EventSource.JOB)
    moved = move_hosts(list(cluster.hosts.all()), HostState.REMOVED, source=EventSource.JOB)
    assert moved == [second]
    assert first.events.count() == second.events.count() == 1
