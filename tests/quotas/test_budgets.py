"""Group budgets: the month's projection against the money, warned once per level per month,
and a hard stop that refuses the droplet that would pass it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import signals
from core.groups import personal_group
from costs import budgets
from costs.models import Budget
from providers import prices
from provisions import services as provisions
from tests.costs.helpers import HOURLY, MONTHLY, metered

pytestmark = pytest.mark.django_db

MID_DECEMBER = datetime(2026, 12, 16, tzinfo=UTC)  # 384 hours left in the month


@pytest.fixture
def month(cluster, monkeypatch):
    """The cluster's 2 droplets ran all month: $12.00 projected."""
    monkeypatch.setattr(timezone, "now", lambda: MID_DECEMBER)
    prices.remember([{"slug": cluster.size, "price_hourly": HOURLY, "price_monthly": MONTHLY}])
    metered(cluster, datetime(2026, 11, 20, tzinfo=UTC))
    return cluster


@pytest.fixture
def heard():
    found = []
    signals.budget_warning.connect(lambda **kw: found.append(kw), weak=False, dispatch_uid="t")
    yield found
    signals.budget_warning.disconnect(dispatch_uid="t")


def test_a_hard_stop_refuses_the_droplet_that_would_pass_the_budget(owner, month):
    group = personal_group(owner)
    budgets.set_budget(owner, group, amount="15", hard_stop=True)
    with pytest.raises(ValidationError) as refused:
        provisions.add_host(owner, month)
    assert refused.value.messages == [
        "group alice: projected $12.00 this month, a new host adds $3.43: more than its $15.00 "
        "budget, which stops new droplets; ask a group admin to raise it or remove hosts"
    ]
    assert month.hosts.count() == 2
    # Without the hard stop the budget only warns.
    budgets.set_budget(owner, group, amount="15", hard_stop=False)
    provisions.add_host(owner, month)
    assert month.hosts.count() == 3


def test_warnings_once_per_level_per_month(owner, month, heard):
    group = personal_group(owner)
    budgets.set_budget(owner, group, amount="20", warn_percent=50)
    assert [w.level for w in budgets.warn()] == ["warning"]  # $12 of $20: 60%
    assert heard[0]["group"] == group and heard[0]["projected"] == Decimal("12.00")
    assert "60% of its $20.00 budget" in heard[0]["text"]
    assert budgets.warn() == []  # the same level is not sent twice
    Budget.objects.filter(group=group).update(amount=Decimal("10"))
    assert [w.level for w in budgets.warn()] == ["exceeded"]
    assert budgets.warn() == []
    # A new month is told again: the droplets still run, $12 projected of $10.
    assert [w.level for w in budgets.warn(datetime(2027, 1, 2, tzinfo=UTC))] == ["exceeded"]
    assert len(heard) == 3


def test_the_groups_month_counts_only_its_clusters(owner, month, operator):
    from core import group_services

    team = group_services.create_group(owner, "edge-team")
    assert budgets.of_group(team)[0].projected == 0
    assert budgets.of_group(personal_group(owner))[0].projected == Decimal("12.00")
    group_services.change_group(owner, month, "edge-team")
    assert budgets.of_group(team)[0].month_to_date > 0


def test_budget_and_quota_warnings_reach_the_groups_webhooks(
    owner, month, settings, django_capture_on_commit_callbacks
):
    """The real senders (costs.budgets, core.quotas) to the group's webhook deliveries."""
    from core.quotas import Quota
    from webhooks import services as webhooks
    from webhooks.models import Delivery

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    group = personal_group(owner)
    webhooks.create(
        owner, "https://127.0.0.1:9/hook", ["budget.warning", "quota.warning"], group=group.name
    )
    budgets.set_budget(owner, group, amount="10")
    with django_capture_on_commit_callbacks(execute=True):  # its try fails: a closed port
        budgets.warn()
    Quota.objects.create(group=group, hosts=3)
    with django_capture_on_commit_callbacks(execute=True):  # the third of 3: past 80%
        provisions.add_host(owner, month)
    told = {d.event: d.payload["data"] for d in Delivery.objects.all()}
    assert told["budget.warning"]["level"] == "exceeded"
    assert told["budget.warning"]["projected"] == "12.00"
    assert told["quota.warning"]["resource"] == "hosts"
    assert "HOSTS 3 of 3 used (80% or more)" in told["quota.warning"]["text"]


def test_a_hard_stop_refuses_a_cluster_moved_into_the_group(owner, month):
    from core import group_services

    team = group_services.create_group(owner, "edge-team")
    budgets.set_budget(owner, team, amount="10", hard_stop=True)
    with pytest.raises(ValidationError) as refused:
        group_services.change_group(owner, month, "edge-team")
    assert refused.value.messages[0].startswith(
        "group edge-team: projected $0.00 this month, moving provision dc there adds $12.00: "
        "more than its $10.00 budget"
    )
    month.refresh_from_db()
    assert month.group == personal_group(owner)
    budgets.set_budget(owner, team, amount="12")
    assert group_services.change_group(owner, month, "edge-team").group == team
