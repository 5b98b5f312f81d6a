"""Backup schedules: what a schedule may say, which VMs are due and when (their own schedule
or their template's), retention applied after a scheduled backup, and the API and CLI faces."""

import datetime as dt
import json
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups import schedules, services
from backups.models import BackupSchedule, VMBackup
from hostexec.ssh import CommandResult
from vms import jobs, lxc
from vms import services as vm_services
from vms.models import VM, VMJob

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "time", "day", "field"),
    [
        ("hourly", "02:00", "", "frequency"),
        ("daily", "25:00", "", "at"),
        ("daily", "2am", "", "at"),
        ("daily", "02:00", "mon", "day"),
        ("weekly", "02:00", "", "day"),
        ("weekly", "02:00", "someday", "day"),
        ("monthly", "02:00", "31", "day"),
        ("monthly", "02:00", "0", "day"),
    ],
)
def test_a_bad_schedule_names_its_field(frequency, time, day, field):
    with pytest.raises(ValidationError) as refused:
        schedules.parse(frequency, time, day)
    assert field in refused.value.message_dict


def test_the_latest_time_a_schedule_names():
    def slot(frequency, time, day, now):
        return schedules.latest_slot(BackupSchedule(**schedules.parse(frequency, time, day)), now)

    assert slot("daily", "02:30", "", at("2026-12-06 03:00")) == at("2026-12-06 02:30")
    assert slot("daily", "02:30", "", at("2026-12-06 02:00")) == at("2026-12-05 02:30")
    # 2026-12-06 is a Sunday.
    assert slot("weekly", "02:00", "sun", at("2026-12-06 05:00")) == at("2026-12-06 02:00")
    assert slot("weekly", "02:00", "fri", at("2026-12-06 05:00")) == at("2026-12-04 02:00")
    assert slot("weekly", "09:00", "sun", at("2026-12-06 05:00")) == at("2026-11-29 09:00")
    assert slot("monthly", "03:00", "1", at("2026-12-06 05:00")) == at("2026-12-01 03:00")
    assert slot("monthly", "03:00", "10", at("2026-12-06 05:00")) == at("2026-11-10 03:00")
    assert slot("monthly", "03:00", "10", at("2026-01-06 05:00")) == at("2025-12-10 03:00")


def backdate(model, pk, when):
    model.objects.filter(pk=pk).update(created_at=when)


def test_due_once_per_time_named_then_not_again(vm, store, owner):
    schedule = schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "02:00"})
    backdate(BackupSchedule, schedule.pk, at("2026-12-01 00:00"))
    backdate(VM, vm.pk, at("2026-12-01 00:00"))
    assert schedules.due(at("2026-12-06 01:00"))[0][2] == at("2026-12-05 02:00")
    assert schedules.run_due(at("2026-12-06 01:00")) == 1
    job = vm.jobs.get(action="backup")
    assert job.params == {"backup": VMBackup.objects.get().pk}  # keeps all: no retention
    backdate(VMBackup, VMBackup.objects.get().pk, at("2026-12-06 01:00"))
    job.state = "SUCCESS"
    job.save()
    assert schedules.due(at("2026-12-06 01:59")) == []
    assert [vm for vm, *_ in schedules.due(at("2026-12-06 02:00"))] == [vm]


def test_a_schedule_never_catches_up_on_times_before_it(vm, store, owner):
    schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "02:00"})
    # Made now: the last 02:00 came before it.
    assert schedules.due(timezone.now()) == []


def test_a_template_schedule_covers_its_vms_and_a_vm_own_one_wins(vm, store, owner, template):
    other = vm_services.instantiate(owner, "Alpine", name="other", nics=["dc-public"])
    VM.objects.filter(pk=other.pk).update(state="POWEROFF", disk_mb=512)
    other.jobs.update(state="DONE")
    for made in (vm, other):
        backdate(VM, made.pk, at("2026-11-01 00:00"))
    weekly = schedules.set_schedule(
        owner, template, {"frequency": "weekly", "at": "04:00", "day": "mon", "keep_weekly": 4}
    )
    backdate(BackupSchedule, weekly.pk, at("2026-11-01 00:00"))
    own = schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "05:00"})
    backdate(BackupSchedule, own.pk, at("2026-11-01 00:00"))
    due = {v.name: (s, slot) for v, s, slot in schedules.due(at("2026-12-06 06:00"))}
    assert due["web"] == (own, at("2026-12-06 05:00"))
    assert due["other"] == (weekly, at("2026-11-30 04:00"))
    schedules.run_due(at("2026-12-06 06:00"))
    assert VMJob.objects.get(vm=other, action="backup").params["keep"] == "--keep-weekly 4"


def test_a_vm_without_a_store_gets_one_failed_backup_per_time(vm, owner):
    schedule = schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "02:00"})
    backdate(BackupSchedule, schedule.pk, at("2026-12-01 00:00"))
    backdate(VM, vm.pk, at("2026-12-01 00:00"))
    assert schedules.run_due(at("2026-12-06 03:00")) == 0
    failed = VMBackup.objects.get()
    assert failed.state == "FAILED" and "no backup store" in failed.error and failed.scheduled
    backdate(VMBackup, failed.pk, at("2026-12-06 03:00"))
    assert schedules.due(at("2026-12-06 04:00")) == []  # not again before the next time


def test_a_busy_vm_is_tried_again_next_cycle(vm, store, owner):
    schedule = schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "02:00"})
    backdate(BackupSchedule, schedule.pk, at("2026-12-01 00:00"))
    backdate(VM, vm.pk, at("2026-12-01 00:00"))
    VMJob.objects.create(vm=vm, action="reboot", state="RUNNING")
    assert schedules.run_due(at("2026-12-06 03:00")) == 0
    assert not VMBackup.objects.exists()
    VMJob.objects.filter(vm=vm, action="reboot").update(state="SUCCESS")
    assert schedules.run_due(at("2026-12-06 03:10")) == 1


def test_finding_due_vms_costs_the_same_queries_for_many(vm, store, owner, template):
    schedules.set_schedule(owner, template, {"frequency": "daily", "at": "02:00"})

    def queries():
        with CaptureQueriesContext(connection) as seen:
            schedules.due(at("2030-01-01 03:00"))
        return len(seen)

    one = queries()
    for n in range(5):
        made = vm_services.instantiate(owner, "Alpine", name=f"m{n}", nics=["dc-public"])
        VM.objects.filter(pk=made.pk).update(state="RUNNING", disk_mb=512)
    assert queries() == one


@pytest.fixture
def host(monkeypatch):
    """vm-backup.sh faked: a backup, then a forget that keeps the new snapshot and one other."""
    calls = []

    class Session:
        def run_script(self, script, env, timeout=None):
            calls.append(env)
            if env["ACTION"] == "backup":
                summary = json.dumps({"data_added": 10, "total_bytes_processed": 20})
                return CommandResult(0, f"SUMMARY {summary}\nSNAPSHOT {'e' * 64}\n", "")
            return CommandResult(0, f"FORGOTTEN\nSNAPSHOT {'a' * 64}\nSNAPSHOT {'e' * 64}\n", "")

    @contextmanager
    def connected(host, script, wait):
        yield Session()

    monkeypatch.setattr(lxc, "connected", connected)
    return calls


def test_retention_forgets_what_restic_pruned(vm, store, owner, host):
    old = {}
    for letter in "abc":
        old[letter] = VMBackup.objects.create(
            vm=vm,
            store=store,
            repository_key=f"vm-{vm.pk}-x",
            state="READY",
            snapshot_id=letter * 64,
        )
    taken = services.backup(owner, vm, scheduled=True, keep="--keep-daily 2")
    assert taken.repository_key == f"vm-{vm.pk}-x"  # the VM's repository goes on
    job = vm.jobs.get(action="backup")
    jobs.run_vm_job(vm.pk, job.action, job.pk)
    assert host[1] == {"VM": vm.container_name, "ACTION": "forget", "KEEP": "--keep-daily 2"}
    left = set(VMBackup.objects.values_list("snapshot_id", flat=True))
    assert left == {"a" * 64, "e" * 64}


@pytest.mark.django_db(transaction=True)
def test_the_api_and_cli_set_show_and_clear_a_schedule(vm, owner, api, cli_env, capsys, template):
    from cli import onetemplate, onevm

    answer = api.put(
        f"/api/vms/{vm.pk}/backup-schedule/",
        {"frequency": "weekly", "at": "02:00", "day": "sun", "keep_weekly": 4},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["described"] == "weekly on sun at 02:00 UTC"
    bad = api.put(f"/api/vms/{vm.pk}/backup-schedule/", {"frequency": "daily", "at": "9"})
    assert bad.status_code == 400 and "HH:MM" in bad.content.decode()
    assert onevm.main(["backup-schedule", "web"]) == 0
    assert "weekly on sun at 02:00 UTC; keeping 4 weekly" in capsys.readouterr().out
    args = ["backup-schedule", "web", "--monthly", "1@03:00", "--keep-monthly", "6"]
    assert onevm.main(args) == 0
    assert "monthly on day 1 at 03:00 UTC; keeping 6 monthly" in capsys.readouterr().out
    assert onevm.main(["backup-schedule", "web", "--off"]) == 0
    capsys.readouterr()
    assert onetemplate.main(["backup-schedule", "Alpine", "--daily", "01:00"]) == 0
    assert "daily at 01:00 UTC; keeping all" in capsys.readouterr().out
    assert onevm.main(["backup-schedule", "web"]) == 0
    assert "(the template's)" in capsys.readouterr().out


def test_another_tenant_cannot_see_or_set_a_schedule(vm, owner, outsider_api, template):
    schedules.set_schedule(owner, vm, {"frequency": "daily", "at": "02:00"})
    for path in (f"/api/vms/{vm.pk}/", f"/api/templates/{template.pk}/"):
        url = path + "backup-schedule/"
        assert outsider_api.get(url).status_code == 404
        body = {"frequency": "daily", "at": "03:00"}
        assert outsider_api.put(url, body, format="json").status_code == 404
        assert outsider_api.delete(url).status_code == 404
    assert BackupSchedule.objects.get().at == dt.time(2, 0)
