"""Which changes become which events, for whom: committed state changes of VMs and provisions,
hosts gone to ERROR (one by one or moved in bulk), quota and budget warnings, each to the
group's active webhooks that asked for it."""

from unittest import mock

import pytest
from django.db import transaction

from core import signals
from core.choices import EventSource
from core.transitions import transition
from provisions.choices import HostState
from provisions.hoststates import move_hosts
from vms import services as vm_services
from webhooks import services
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

URL = "https://hooks.example/edge"


def told(event=None):
    rows = Delivery.objects.order_by("pk")
    return [d.payload for d in (rows.filter(event=event) if event else rows)]


@pytest.fixture
def hook(owner):
    return services.create(
        owner,
        URL,
        ["vm.state", "provision.state", "host.error", "quota.warning", "budget.warning"],
    )[0]


def test_a_provisions_change_is_told_once_committed(
    hook, cluster, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition(cluster, "ERROR", {"RUNNING"}, source=EventSource.MONITOR, reason="lost")
    [payload] = told()
    assert payload["event"] == "provision.state"
    assert payload["data"]["provision"] == {"id": cluster.pk, "name": "dc"}
    assert (payload["data"]["from"], payload["data"]["to"]) == ("RUNNING", "ERROR")


def test_a_change_rolled_back_is_never_told(hook, cluster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            transition(cluster, "ERROR", {"RUNNING"}, source=EventSource.JOB)
            raise RuntimeError("the job's next step failed")
    assert told() == []


def test_hosts_moved_to_error_are_told_one_by_one_and_in_bulk(
    hook, cluster, django_capture_on_commit_callbacks
):
    first, second = cluster.hosts.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        transition(first, HostState.ERROR, {HostState.RUNNING}, source=EventSource.MONITOR)
        transition(first, HostState.RUNNING, {HostState.ERROR}, source=EventSource.MONITOR)
    with django_capture_on_commit_callbacks(execute=True):
        move_hosts(cluster.hosts.all(), HostState.ERROR, source=EventSource.JOB, reason="fenced")
    errors = told("host.error")
    assert [p["data"]["host"]["name"] for p in errors] == [first.name, first.name, second.name]
    assert errors[-1]["data"]["provision"] == {"id": cluster.pk, "name": "dc"}
    assert errors[-1]["data"]["reason"] == "fenced"
    assert len({p["id"] for p in errors}) == 3  # each event its own key
    assert told() == errors  # back to RUNNING is no event


def test_only_active_webhooks_that_asked_for_the_event_are_told(
    owner, hook, cluster, template, django_capture_on_commit_callbacks
):
    other, _ = services.create(owner, URL + "/other", ["provision.state"])
    services.update(owner, hook, active=False)
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    with django_capture_on_commit_callbacks(execute=True):
        transition(vm, "RUNNING", {"PENDING"}, source=EventSource.JOB)
        transition(cluster, "ERROR", {"RUNNING"}, source=EventSource.JOB)
    assert [(d.webhook_id, d.event) for d in Delivery.objects.all()] == [
        (other.pk, "provision.state")
    ]


def test_another_groups_change_reaches_none_of_these_webhooks(hook, outsider):
    from core.groups import personal_group

    services.emit(personal_group(outsider).pk, "vm.state", {})
    assert told() == []


def test_a_quota_warning_is_told_to_the_group_or_the_users_primary_group(hook, owner):
    from core.groups import personal_group

    group = personal_group(owner)
    signals.quota_warning.send(
        sender=None, group=group, user=None, resource="vms", used=9, limit=10, text="9 of 10 VMs"
    )
    signals.quota_warning.send(
        sender=None, group=None, user=owner, resource="cpu", used=3.5, limit=4, text="3.5 of 4"
    )
    first, second = told("quota.warning")
    assert first["data"] == {
        "resource": "vms",
        "used": 9,
        "limit": 10,
        "text": "9 of 10 VMs",
        "user": None,
        "scope": "group",
    }
    assert (second["data"]["scope"], second["data"]["user"]) == ("user", "alice")


def test_a_budget_warning_is_told_with_its_figures(hook, owner):
    from decimal import Decimal

    from core.groups import personal_group

    signals.budget_warning.send(
        sender=None,
        group=personal_group(owner),
        level="exceeded",
        projected=Decimal("120.50"),
        budget=Decimal("100"),
        text="projected $120.50 of $100",
    )
    [payload] = told("budget.warning")
    assert payload["data"] == {
        "level": "exceeded",
        "projected": "120.50",
        "budget": "100",
        "text": "projected $120.50 of $100",
    }


def test_with_nobody_listening_a_change_registers_nothing(
    cluster, django_capture_on_commit_callbacks
):
    with mock.patch.object(signals.state_changed, "has_listeners", return_value=False):
        with django_capture_on_commit_callbacks() as queued:
            transition(cluster, "ERROR", {"RUNNING"}, source=EventSource.JOB)
    assert queued == []


def test_a_failing_listener_leaves_the_change_and_the_others(
    hook, cluster, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("listener bug")

    signals.state_changed.connect(broken, dispatch_uid="test-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            transition(cluster, "ERROR", {"RUNNING"}, source=EventSource.JOB)
    finally:
        signals.state_changed.disconnect(dispatch_uid="test-broken")
    cluster.refresh_from_db()
    assert cluster.state == "ERROR" and len(told("provision.state")) == 1
