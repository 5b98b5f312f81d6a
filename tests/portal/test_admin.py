"""Every model registered in the admin opens, list and object page, for an operator, with one
object of each; the history and sample admins are read-only and their lists stay flat."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from audit.models import AuditEntry
from backups.models import BackupSchedule, BackupStore, PendingRestore, VMBackup
from consoles.models import ConsoleSession
from core import crypto
from core.choices import EventSource
from core.groups import personal_group
from core.models import ApiToken, UserProfile
from core.quotas import Quota
from core.transitions import transition
from costs.models import BalanceCheck, Budget
from monitoring.models import WorkerHeartbeat, WorkerLease
from provisions.models import (
    CloudResource,
    HostEvent,
    JobLogLine,
    MeteredDroplet,
    ProvisionEvent,
    SecurityGroup,
)
from tests.monitoring.conftest import host_samples, vm_samples
from vms import services as vm_services
from vms.models import VMJob, VMLogLine, VMSnapshot
from webhooks import services as webhook_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_each(owner, operator, cluster, template):
    """At least one row of every registered model."""
    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    transition(vm, "RUNNING", {"PENDING"}, source=EventSource.JOB, reason="up")
    VMLogLine.objects.create(vm=vm, message="placed")
    host = vm.host
    HostEvent.objects.create(
        host=host, source=EventSource.MONITOR, from_state="RUNNING", to_state="ERROR", reason="x"
    )
    ProvisionEvent.objects.create(provision=cluster, from_state="", to_state="PENDING")
    CloudResource.objects.get_or_create(provision=cluster, kind="vpc", name=cluster.tag)
    JobLogLine.objects.create(job=cluster.jobs.first(), message="deployed")
    SecurityGroup.objects.create(provision=cluster, name="web", rules=[])
    host_samples(host, 2)
    vm_samples(vm, [(1.0, 20.0, 0, 0)])
    WorkerLease.objects.create(name="monitor", owner="w1", expires_at=timezone.now())
    WorkerHeartbeat.objects.create(
        owner="w1:1:ab", hostname="w1", pid=1, started_at=timezone.now(), seen_at=timezone.now()
    )
    VMJob.objects.get_or_create(vm=vm, action="deploy")
    VMSnapshot.objects.create(vm=vm, name="before", disk_mb=2048, size_bytes=2**20, freeze_ms=40)
    Quota.objects.create(user=owner, vms=5, cpu=4, memory_mb=4096)
    Quota.objects.create(group=personal_group(owner), hosts=4, spend="100")
    Budget.objects.create(group=personal_group(owner), amount="100", hard_stop=True)
    MeteredDroplet.objects.create(
        provision=cluster,
        host=host,
        host_name=host.name,
        droplet_id="300000001",
        size="s-1vcpu-1gb",
        price_hourly="0.00893",
        price_monthly="6.00",
        started_at=timezone.now(),
    )
    BalanceCheck.objects.create(
        token_fingerprint="0123456789abcdef",
        providers="do",
        checked_at=timezone.now(),
        portal_usd="1.00",
        digitalocean_usd="1.20",
    )
    store = BackupStore.objects.create(
        owner=owner,
        name="spaces",
        endpoint="https://fra1.digitaloceanspaces.com",
        region="fra1",
        bucket="backups",
        access_key="DO00KEY",
        secret_encrypted=crypto.encrypt("secret"),
        secret_hint="****",
        password_encrypted=crypto.encrypt("password"),
        checked_at=timezone.now(),
    )
    backup = VMBackup.objects.create(
        vm=vm, store=store, repository_key="vm-1-1", state="READY", snapshot_id="ab" * 32
    )
    PendingRestore.objects.create(vm=vm, backup=backup)
    BackupSchedule.objects.create(vm=vm, frequency="daily", at="02:00", keep_daily=7)
    ConsoleSession.objects.create(
        owner=owner, username="alice", vm=vm, host=host, target="VM web", via="BROWSER"
    )
    token, _ = ApiToken.issue(owner, "cli")
    AuditEntry.objects.create(
        user=owner,
        username="alice",
        token=token,
        token_name="cli",
        channel="api",
        group=vm.group,
        group_name=vm.group.name,
        address="198.51.100.7",
        method="POST",
        path=f"/api/vms/{vm.pk}/action/",
        action="action:poweroff",
        object_type="vms.vm",
        object_id=str(vm.pk),
        object_name="web",
        status=200,
        outcome="ok",
    )
    hook, _ = webhook_services.create(owner, "https://hooks.example/edge", ["vm.state"])
    webhook_services.ping(owner, hook)
    UserProfile.objects.create(user=owner, ssh_public_key="ssh-ed25519 AAAA alice")
    Group.objects.create(name="operators")
    Schedule.objects.create(func="math.floor", args="1.5", schedule_type=Schedule.ONCE)
    OrmQ.objects.create(key="default", payload="x", lock=timezone.now())
    now = timezone.now()
    for success in (True, False):
        Task.objects.create(
            id=f"task{int(success)}",
            name=f"task-{success}",
            func="math.floor",
            started=now - timedelta(seconds=1),
            stopped=now,
            success=success,
        )
    seen = {"username": "alice", "ip_address": "198.51.100.7", "user_agent": "curl"}
    AccessAttempt.objects.create(**seen, failures_since_start=5, get_data="", post_data="x")
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen, locked_out=True)


def registered():
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


def test_every_registered_model_lists_and_opens_for_an_operator(operator_client, one_of_each):
    labels = {model._meta.label for model in registered()}
    assert {
        "monitoring.HostSample",
        "monitoring.VMSample",
        "monitoring.WorkerLease",
        "provisions.HostEvent",
        "provisions.Host",
        "vms.VMEvent",
    } <= labels
    opened_add = []
    for model in registered():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = operator_client.get(changelist)
        assert response.status_code == 200, changelist
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {opts.label} made by the fixture"
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        response = operator_client.get(change)
        assert response.status_code == 200, change
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        if admin.site._registry[model].has_add_permission(response.wsgi_request):
            response = operator_client.get(add)
            assert response.status_code == 200, add
            opened_add.append(opts.label)
        else:
            assert operator_client.get(add).status_code == 403, add
    # Not every model may be added by hand, but the ones operators make must open.
    assert {"providers.Provider", "core.Quota", "auth.User"} <= set(opened_add)


@pytest.mark.parametrize(
    "label",
    [
        "monitoring.HostSample",
        "monitoring.VMSample",
        "monitoring.WorkerLease",
        "monitoring.WorkerHeartbeat",
        "provisions.HostEvent",
        "provisions.Host",
        "vms.VMEvent",
        "vms.VMJob",
        "vms.VMSnapshot",
        "consoles.ConsoleSession",
        "audit.AuditEntry",
        "webhooks.Delivery",
    ],
)
def test_history_and_sample_admins_are_read_only(operator_client, one_of_each, label):
    model = next(m for m in registered() if m._meta.label == label)
    model_admin = admin.site._registry[model]
    request = operator_client.get("/admin/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    obj = model._default_manager.first()
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert 'name="_save"' not in operator_client.get(url).content.decode()


def test_host_admin_shows_the_hosts_history(operator_client, one_of_each):
    host = HostEvent.objects.get().host
    html = operator_client.get(f"/admin/provisions/host/{host.pk}/change/").content.decode()
    assert "RUNNING" in html and "ERROR" in html and "monitor" in html


@pytest.mark.parametrize(
    ("url", "more"),
    [
        ("/admin/monitoring/hostsample/", lambda host, vm: host_samples(host, 40)),
        ("/admin/monitoring/vmsample/", lambda host, vm: vm_samples(vm, [(1, 2, 3, 4)] * 40)),
        (
            "/admin/provisions/hostevent/",
            lambda host, vm: HostEvent.objects.bulk_create(
                HostEvent(host=host, source="monitor", from_state="A", to_state="B")
                for _ in range(40)
            ),
        ),
        (
            "/admin/vms/vmevent/",
            lambda host, vm: [
                transition(vm, s, {"RUNNING", "POWEROFF"}, source="job")
                for s in ["POWEROFF", "RUNNING"] * 20
            ],
        ),
    ],
)
def test_admin_lists_cost_the_same_queries_with_more_rows(operator_client, one_of_each, url, more):
    from vms.models import VM

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(url).status_code == 200
        return len(captured)

    few = count()
    vm = VM.objects.get(name="web")
    more(vm.host, vm)
    assert count() == few


def test_the_provider_admin_applies_the_same_checks_as_the_api(operator_client):
    from providers.models import Provider

    before = Provider.objects.count()
    response = operator_client.post(
        "/admin/providers/provider/add/",
        {
            "name": "evil\u202eexe",
            "description": "",
            "provider_type": "digitalocean",
            "region": "ams3",
            "plain": "{}",
            "inputs": '[{"name": "x", "type": ["list"]}]',
            "token": "",
            "owner": "",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a valid name" in html and "inputs[0].type" in html
    assert Provider.objects.count() == before


def test_the_webhook_admin_never_shows_the_secret(operator_client, one_of_each):
    from webhooks.models import Webhook

    hook = Webhook.objects.get()
    html = operator_client.get(f"/admin/webhooks/webhook/{hook.pk}/change/").content.decode()
    assert hook.get_secret() not in html and hook.secret_encrypted not in html
    assert hook.secret_hint in html
