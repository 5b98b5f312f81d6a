"""Quotas hold: every operation that takes something reserves it against its owner's and its
group's limits, and a refusal names the limit, what is used and what was asked."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import group_services, quotas
from core.groups import personal_group
from core.quotas import Quota, Whose
from providers import prices
from provisions import services as provisions
from provisions.models import Host
from tests.costs.helpers import HOURLY, MONTHLY, metered
from vms import services, snapshots
from vms.models import VM, VMSnapshot, VMTemplate

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(cluster):
    cluster.hosts.update(cpu=100, memory_mb=100000)
    return cluster


@pytest.fixture
def team(owner):
    return group_services.create_group(owner, "edge-team")


def _vm(owner, name, group=None, nics=("dc-public",)):
    return services.instantiate(owner, "Alpine", name=name, nics=list(nics), group=group)


def test_a_group_memory_quota_refuses_the_vm_that_would_pass_it(owner, cluster, template, team):
    VMTemplate.objects.filter(pk=template.pk).update(memory_mb=512)
    Quota.objects.create(group=team, memory_mb=4096)
    for n in range(7):
        _vm(owner, f"small{n}", group=team)
    VMTemplate.objects.filter(pk=template.pk).update(memory_mb=1024)
    with pytest.raises(ValidationError) as refused:
        _vm(owner, "big", group=team)
    assert refused.value.messages == [
        "group edge-team: MEMORY 3.5 GB of 4 GB used, this VM needs 1 GB; ask an admin of the "
        "group or an operator for a higher quota"
    ]
    assert not VM.objects.filter(name="big").exists()
    # The same VM in the user's own group, which has no such limit, is made.
    assert _vm(owner, "big").group == personal_group(owner)


def test_every_vm_resource_is_counted_for_the_user_and_the_group(owner, cluster, template, team):
    _vm(owner, "one", group=team)
    _vm(owner, "two", nics=("dc-private",))
    by_user = {line.resource.name: line.used for line in quotas.report(Whose(user=owner))}
    by_group = {line.resource.name: line.used for line in quotas.report(Whose(group=team))}
    assert by_user["vms"] == by_user["running_vms"] == 2
    assert by_user["port_blocks"] == 1  # only "one" has a public NIC
    assert by_group["vms"] == 1 and by_group["port_blocks"] == 1
    assert by_user["memory_mb"] == 2 * template.memory_mb
    assert by_user["hosts"] == 2  # the cluster's, which is in the user's own group
    assert by_group["hosts"] == 0


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ({"vms": 1}, "VMS 1 of 1 used, this VM needs 1"),
        ({"port_blocks": 1}, "PORT_BLOCKS 1 of 1 used, this VM needs 1"),
        ({"cpu": Decimal("1.5")}, "CPU 1 of 1.5 used, this VM needs 1"),
        ({"disk_mb": 1500}, "DISK 1 GB of 1.46 GB used, this VM needs 1 GB"),
    ],
)
def test_each_vm_limit_of_a_group(owner, cluster, template, team, limit, words):
    VMTemplate.objects.filter(pk=template.pk).update(cpu=1, disk_mb=1024)
    Quota.objects.create(group=team, **limit)
    _vm(owner, "first", group=team)
    with pytest.raises(ValidationError, match=f"group edge-team: {words}"):
        _vm(owner, "second", group=team)


def test_a_resume_needs_a_running_vm_unit(owner, cluster, template):
    first, second = _vm(owner, "first"), _vm(owner, "second")
    VM.objects.filter(pk__in=[first.pk, second.pk]).update(state="POWEROFF")
    Quota.objects.create(user=owner, running_vms=1)
    services.act(owner, first, "resume")
    # The first resume's job has not run yet: the VM is still POWEROFF, and already counts.
    with pytest.raises(ValidationError, match="RUNNING_VMS 1 of 1 used, this VM's resume"):
        services.act(owner, second, "resume")


def test_hosts_quota_refuses_a_cluster_and_a_host(owner, cluster):
    Quota.objects.create(user=owner, hosts=3)
    with pytest.raises(ValidationError, match=r"HOSTS 2 of 3 used, this cluster's 2 host\(s\)"):
        provisions.create_provision(owner, provider=cluster.provider, name="edge2", host_count=2)
    provisions.add_host(owner, cluster)
    with pytest.raises(ValidationError, match="user alice: HOSTS 3 of 3 used, a new host needs 1"):
        provisions.add_host(owner, cluster)
    assert Host.objects.filter(provision=cluster).count() == 3


def test_spend_quota_counts_the_months_projection_and_the_new_droplets(owner, cluster, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 16, tzinfo=UTC))
    prices.remember([{"slug": cluster.size, "price_hourly": HOURLY, "price_monthly": MONTHLY}])
    metered(cluster, datetime(2026, 11, 20, tzinfo=UTC))  # 2 x $6.00 this month
    Quota.objects.create(user=owner, spend=Decimal("15"))
    # One more host for the 384 hours left: 384 x $0.00893 = $3.43; $15.43 > $15.
    with pytest.raises(
        ValidationError, match=r"SPEND \$12.00 of \$15.00 used, a new host needs \$3.43"
    ):
        provisions.add_host(owner, cluster)
    Quota.objects.filter(user=owner).update(spend=Decimal("16"))
    provisions.add_host(owner, cluster)


def test_snapshot_storage_quota(owner, cluster, template):
    vm = _vm(owner, "one")
    VM.objects.filter(pk=vm.pk).update(state="RUNNING", disk_mb=2048)
    vm.jobs.update(state="SUCCESS")
    VMSnapshot.objects.create(vm=vm, name="old", disk_mb=2048, size_bytes=900 * 2**20)
    # Monitoring saw 300 MB in use: what the next snapshot will roughly take.
    vm.samples.create(
        at=timezone.now(),
        cpu_seconds=1,
        memory_mb=10,
        net_rx_bytes=0,
        net_tx_bytes=0,
        disk_used_mb=300,
    )
    Quota.objects.create(user=owner, snapshot_mb=1024)
    with pytest.raises(
        ValidationError,
        match="user alice: SNAPSHOTS 900 MB of 1 GB used, this snapshot needs 300 MB",
    ):
        snapshots.create(owner, vm)
    Quota.objects.filter(user=owner).update(snapshot_mb=1200)
    taken = snapshots.create(owner, vm)
    # Until its job knows its size it counts as its whole disk: no second one slips in.
    assert quotas.used(Whose(user=owner), "snapshot_mb") == 900 + 2048
    assert taken.state == VMSnapshot.State.CREATING


def test_giving_an_object_to_a_group_over_its_quota_is_refused(owner, cluster, template, team):
    vm = _vm(owner, "one")
    Quota.objects.create(group=team, vms=0)
    with pytest.raises(
        ValidationError, match="group edge-team: VMS 0 of 0 used, moving vm one there needs 1"
    ):
        group_services.change_group(owner, vm, "edge-team")
    vm.refresh_from_db()
    assert vm.group == personal_group(owner)
    Quota.objects.filter(group=team).update(vms=None)
    assert group_services.change_group(owner, vm, "edge-team").group == team


def test_the_users_default_comes_from_settings(owner, cluster, template, settings):
    settings.QUOTA_DEFAULTS = {"user": {"vms": 1}, "group": {}}
    _vm(owner, "one")
    with pytest.raises(ValidationError, match="user alice: VMS 1 of 1 used"):
        _vm(owner, "two")
    Quota.objects.create(user=owner, vms=None, cpu=Decimal(8))  # empty: still the default
    with pytest.raises(ValidationError, match="VMS 1 of 1 used"):
        _vm(owner, "two")


def test_a_warning_is_sent_once_a_reservation_reaches_the_warning_level(
    owner, cluster, template, team, settings, django_capture_on_commit_callbacks
):
    from core import signals

    heard = []
    signals.quota_warning.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t")
    try:
        settings.QUOTA_WARN_PERCENT = 50
        Quota.objects.create(group=team, vms=4)
        for name in ("one", "two", "three"):  # 2 of 4 is 50%; the third is past it already
            with django_capture_on_commit_callbacks(execute=True):
                _vm(owner, name, group=team)
        assert [(w["group"], w["resource"], w["used"]) for w in heard] == [(team, "vms", 2)]
    finally:
        signals.quota_warning.disconnect(dispatch_uid="t")
