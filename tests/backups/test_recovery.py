"""A lost host's VMs without the lab: monitoring counts the cycles a host is ERROR and fences it
after HOST_RECOVERY_CYCLES (not before, not when no VM would be recovered), the fence job powers
the droplet off through DigitalOcean before any VM moves, a failed fencing moves nothing, and
each VM is recovered by its policy; `onevm recover` for operators."""

import pytest
from django.core.exceptions import ValidationError

from backups import recovery
from backups.models import PendingRestore, VMBackup
from monitoring import lost
from providers.drivers import NotFound, PermanentError
from provisions import jobs as provision_jobs
from provisions.choices import HostProblem, HostState
from provisions.models import Host, Job
from vms.models import VM

pytestmark = pytest.mark.django_db


class Driver:
    """DigitalOcean as the fence job sees it: droplets by ID, power_off that works or errs."""

    api_calls = retried_calls = 0

    def __init__(self, refuse=False, gone=False):
        self.refuse, self.gone, self.actions = refuse, gone, []
        self.status = "active"

    def rate_limit_summary(self):
        return None

    def get_droplet(self, droplet_id):
        if self.gone:
            raise NotFound("droplet not found")
        return {"id": droplet_id, "status": self.status}

    def droplet_action(self, droplet_id, action, wait=False):
        self.actions.append((droplet_id, action))
        if self.refuse:
            raise PermanentError(f"droplet {droplet_id}: {action} errored in DigitalOcean")
        self.status = "off"
        return {"status": "completed"}


@pytest.fixture
def driver(monkeypatch):
    fake = Driver()
    monkeypatch.setattr(provision_jobs, "driver_for", lambda provider: fake)
    return fake


@pytest.fixture
def lost_host(vm, settings):
    """The VM's host ERROR (it stopped answering), its VM UNKNOWN."""
    settings.HOST_RECOVERY_CYCLES = 3
    Host.objects.filter(pk=vm.host_id).update(
        state=HostState.ERROR, problem=HostProblem.UNREACHABLE, droplet_id=4242
    )
    VM.objects.filter(pk=vm.pk).update(state="UNKNOWN")
    return Host.objects.get(pk=vm.host_id)


def cycles(n):
    started = []
    for _ in range(n):
        lost.count_error_cycles()
        started += lost.fence_lost_hosts()
    return started


def run_fence_job(host):
    job = Job.objects.filter(provision=host.provision, kind="fence").latest("id")
    provision_jobs.run_job(job.pk)
    job.refresh_from_db()
    return job


def ready_backup(vm, store):
    return VMBackup.objects.create(
        vm=vm, store=store, repository_key="k", state="READY", snapshot_id="f" * 64, disk_mb=1024
    )


def test_a_host_back_within_the_cycles_triggers_nothing(lost_host):
    assert cycles(2) == []
    Host.objects.filter(pk=lost_host.pk).update(state=HostState.RUNNING, problem="")
    lost.count_error_cycles()
    assert Host.objects.get(pk=lost_host.pk).error_cycles == 0
    Host.objects.filter(pk=lost_host.pk).update(state=HostState.ERROR)
    assert cycles(2) == []  # counted again from 0
    assert not Job.objects.filter(kind="fence").exists()


def test_a_host_whose_vms_all_say_none_is_not_fenced(lost_host, vm):
    VM.objects.filter(pk=vm.pk).update(recovery_policy="none")
    assert cycles(5) == []


def test_fenced_then_recovered_from_the_latest_backup(lost_host, vm, store, driver):
    backup = ready_backup(vm, store)
    assert cycles(3) == [lost_host]
    job = run_fence_job(lost_host)
    assert job.state == "SUCCESS", job.error
    assert driver.actions == [(4242, "power_off")]
    host = Host.objects.get(pk=lost_host.pk)
    assert host.problem == HostProblem.FENCED and host.fenced_at is not None
    assert host.events.filter(reason__startswith="fenced: droplet 4242 powered off").exists()
    vm.refresh_from_db()
    # On the other host, a new port block there, its deploy fetching the backup first.
    assert vm.host_id not in (None, lost_host.pk) and vm.state == "PENDING"
    assert PendingRestore.objects.get(vm=vm).backup == backup
    assert vm.nics.get().port_block.host_id == vm.host_id
    assert vm.jobs.filter(action="deploy", state="QUEUED").exists()
    assert vm.events.filter(to_state="PENDING", reason__contains="restore from backup").exists()
    assert cycles(5) == []  # fenced: never again


def test_a_failed_fencing_recovers_nothing_and_is_tried_again(lost_host, vm, store, monkeypatch):
    refusing = Driver(refuse=True)
    monkeypatch.setattr(provision_jobs, "driver_for", lambda provider: refusing)
    ready_backup(vm, store)
    cycles(3)
    assert run_fence_job(lost_host).state == "FAILED"
    vm.refresh_from_db()
    assert vm.state == "UNKNOWN" and vm.host_id == lost_host.pk
    assert not PendingRestore.objects.exists()
    assert Host.objects.get(pk=lost_host.pk).problem == HostProblem.UNREACHABLE
    assert cycles(1) == [lost_host]  # the next cycle tries again, and the VM says why
    assert vm.log.filter(message__contains="fencing its host").exists()


def test_a_gone_droplet_is_fenced_as_it_is(lost_host, vm, monkeypatch):
    gone = Driver(gone=True)
    monkeypatch.setattr(provision_jobs, "driver_for", lambda provider: gone)
    VM.objects.filter(pk=vm.pk).update(recovery_policy="recreate")
    cycles(3)
    assert run_fence_job(lost_host).state == "SUCCESS"
    assert gone.actions == []
    vm.refresh_from_db()
    assert vm.state == "PENDING" and vm.host_id != lost_host.pk
    assert not PendingRestore.objects.exists()
    assert vm.log.filter(message__contains="what it wrote on the lost host is lost").exists()


def test_restore_without_a_backup_stays_and_says_so(lost_host, vm, driver):
    cycles(3)
    run_fence_job(lost_host)
    vm.refresh_from_db()
    assert vm.state == "UNKNOWN" and vm.host_id == lost_host.pk
    assert vm.log.filter(message__contains="no complete backup to restore from").exists()


def test_a_vm_that_fits_nowhere_waits_pending_with_the_reason(lost_host, vm, store, driver):
    ready_backup(vm, store)
    Host.objects.exclude(pk=lost_host.pk).update(state=HostState.ERROR, problem="unreachable")
    cycles(3)
    run_fence_job(lost_host)
    vm.refresh_from_db()
    assert vm.state == "PENDING" and vm.host_id is None and vm.placement_reason


def test_onevm_recover_is_for_operators_and_only_once_the_host_is_fenced(
    lost_host, vm, store, owner, operator
):
    ready_backup(vm, store)
    with pytest.raises(Exception, match="operators"):
        recovery.operate(owner, vm, "restore")
    with pytest.raises(ValidationError, match="not fenced"):
        recovery.operate(operator, vm, "restore")
    Host.objects.filter(pk=lost_host.pk).update(problem=HostProblem.FENCED)
    moved = recovery.operate(operator, vm, "recreate")
    assert moved.state == "PENDING" and moved.host_id != lost_host.pk
    assert moved.events.filter(source="user", actor=operator).exists()


def test_onevm_recover_delete_success_failure_retry(lost_host, vm, operator):
    assert recovery.operate(operator, vm, "success").state == "RUNNING"
    assert recovery.operate(operator, vm, "failure").state == "FAILURE"
    vm.jobs.create(action="reboot", state="FAILED")
    recovery.operate(operator, vm, "retry")
    assert vm.jobs.filter(action="reboot", state="QUEUED").exists()
    vm.jobs.filter(state="QUEUED").update(state="FAILED")
    assert recovery.operate(operator, vm, "delete").state == "DONE"


def test_the_api_faces(lost_host, vm, api, operator_api, outsider_api):
    url = f"/api/vms/{vm.pk}/recover/"
    assert outsider_api.post(url, {"operation": "success"}).status_code == 404
    assert api.post(url, {"operation": "success"}).status_code == 403
    assert operator_api.post(url, {"operation": "bogus"}).status_code == 400
    assert operator_api.post(url, {"operation": "success"}).json()["state"] == "RUNNING"
    policy = f"/api/vms/{vm.pk}/recovery-policy/"
    assert api.get(policy).json()["recovery"] == "restore"
    assert api.put(policy, {"policy": "none"}).json()["recovery"] == "none"
    assert outsider_api.put(policy, {"policy": "recreate"}).status_code == 404
    assert VM.objects.get(pk=vm.pk).recovery() == "none"
    fence = f"/api/provisions/{lost_host.provision_id}/hosts/{lost_host.pk}/fence/"
    assert api.post(fence).status_code == 403
    assert operator_api.post(fence).status_code == 202


def test_the_admin_recovers_a_vm(lost_host, vm, operator_client):
    answer = operator_client.post(
        "/admin/vms/vm/",
        {"action": "recover_success", "_selected_action": [vm.pk]},
        follow=True,
    )
    assert "recover --success done" in answer.content.decode()
    assert VM.objects.get(pk=vm.pk).state == "RUNNING"
    answer = operator_client.post(
        "/admin/vms/vm/", {"action": "recover_restore", "_selected_action": [vm.pk]}, follow=True
    )
    assert "not fenced" in answer.content.decode()


def test_a_recovered_vm_keeps_its_private_address_and_gets_new_ports(
    owner, template, cluster, driver, settings
):
    from vms import services as vm_services

    settings.HOST_RECOVERY_CYCLES = 2
    made = vm_services.instantiate(owner, "Alpine", name="two", nics=["dc-public", "dc-private"])
    VM.objects.filter(pk=made.pk).update(state="UNKNOWN", recovery_policy="recreate")
    made.jobs.update(state="DONE")
    private = made.nics.get(network__name="dc-private")
    address, lease = private.ip, private.lease.pk
    old_block = made.nics.get(network__name="dc-public").port_block
    Host.objects.filter(pk=made.host_id).update(
        state=HostState.ERROR, problem=HostProblem.UNREACHABLE, droplet_id=77
    )
    lost_host = Host.objects.get(pk=made.host_id)
    cycles(2)
    run_fence_job(lost_host)
    made.refresh_from_db()
    assert made.host_id not in (None, lost_host.pk)
    private.refresh_from_db()
    assert (private.ip, private.lease.pk) == (address, lease)
    block = made.nics.get(network__name="dc-public").port_block
    assert block.host_id == made.host_id and block.pk != old_block.pk


def test_a_refused_fencing_is_tried_again_less_and_less_often(lost_host, vm, monkeypatch):
    refusing = Driver(refuse=True)
    monkeypatch.setattr(provision_jobs, "driver_for", lambda provider: refusing)
    tries = []
    for cycle in range(1, 14):
        if cycles(1):
            run_fence_job(lost_host)
            tries.append(cycle)
    # ERROR for 3 cycles, then 1, 2, 4 and 8 cycles after each refused try.
    assert tries == [3, 4, 6, 10], tries
    assert VM.objects.get(pk=vm.pk).host_id == lost_host.pk
    assert vm.log.filter(message__contains="trying again (attempt 4)").exists()
