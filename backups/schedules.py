"""Backup schedules: daily, weekly or monthly at a time of day (UTC), per VM or per template,
with retention (restic's --keep-daily/--keep-weekly/--keep-monthly, applied by forget and
prune after each scheduled backup).

Each monitoring cycle (one worker runs it: the `monitor` lease holder) starts the backups that
are due: a VM is due when the latest time its schedule names has passed and it has no
scheduled backup since. A VM busy with another job is tried again next cycle; one that cannot
be backed up at all (no store) gets a FAILED backup saying why, once per scheduled time.
"""

import datetime as dt
import logging
import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from backups import services
from backups.choices import BackupState
from backups.models import WEEKDAYS, BackupSchedule, VMBackup
from core.tenancy import check_change
from jobs.states import JOB_LIVE
from vms.choices import VMState
from vms.jobstart import vm_log
from vms.models import VM, VMTemplate

log = logging.getLogger(__name__)

KEEP_MAX = 1000
SPEC_FIELDS = ("frequency", "at", "day", "keep_daily", "keep_weekly", "keep_monthly")
TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse(frequency: str, at: str, day: str | int | None = None) -> dict:
    """A schedule's fields from what a user typed: frequency daily|weekly|monthly, at HH:MM
    (UTC), day a weekday (mon..sun) for weekly or a day of the month (1-28) for monthly."""
    frequency = str(frequency or "").strip().lower()
    if frequency not in BackupSchedule.Frequency.values:
        raise ValidationError({"frequency": "give daily, weekly or monthly"})
    match = TIME.fullmatch(str(at or "").strip())
    if not match:
        raise ValidationError({"at": f"{at!r} is not a time of day: give HH:MM (UTC), e.g. 02:30"})
    fields = {
        "frequency": frequency,
        "at": dt.time(int(match[1]), int(match[2])),
        "weekday": None,
        "monthday": None,
    }
    day = str(day if day is not None else "").strip().lower()
    if frequency == BackupSchedule.Frequency.WEEKLY:
        if day[:3] not in WEEKDAYS:
            raise ValidationError({"day": "a weekly schedule needs a weekday: mon, tue ... sun"})
        fields["weekday"] = WEEKDAYS.index(day[:3])
    elif frequency == BackupSchedule.Frequency.MONTHLY:
        if not day.isdigit() or not 1 <= int(day) <= 28:
            raise ValidationError(
                {"day": "a monthly schedule needs a day of the month, 1-28 (every month has it)"}
            )
        fields["monthday"] = int(day)
    elif day:
        raise ValidationError({"day": "a daily schedule takes no day"})
    return fields


def _keep(value, rule: str) -> int:
    if value in (None, ""):
        return 0
    if not str(value).isdigit() or int(value) > KEEP_MAX:
        raise ValidationError({f"keep_{rule}": f"keep-{rule} is a number, 0-{KEEP_MAX}"})
    return int(value)


def set_schedule(user, target: VM | VMTemplate, spec: dict) -> BackupSchedule:
    """Give a VM or a template its schedule (replacing any): `spec` frequency, at, day,
    keep_daily, keep_weekly, keep_monthly."""
    _check_access(user, target)
    fields = parse(spec.get("frequency"), spec.get("at"), spec.get("day"))
    for rule in ("daily", "weekly", "monthly"):
        fields[f"keep_{rule}"] = _keep(spec.get(f"keep_{rule}"), rule)
    key = {"vm": target} if isinstance(target, VM) else {"template": target}
    with transaction.atomic():
        BackupSchedule.objects.filter(**key).delete()
        return BackupSchedule.objects.create(**key, **fields)


def clear(user, target: VM | VMTemplate) -> None:
    _check_access(user, target)
    key = {"vm": target} if isinstance(target, VM) else {"template": target}
    BackupSchedule.objects.filter(**key).delete()


def schedule_of(vm: VM) -> BackupSchedule | None:
    """The schedule a VM follows: its own, else its template's."""
    own = BackupSchedule.objects.filter(vm=vm).first()
    if own is not None or vm.template_id is None:
        return own
    return BackupSchedule.objects.filter(template_id=vm.template_id).first()


def _check_access(user, target) -> None:
    check_change(user, target)


def latest_slot(schedule: BackupSchedule, now: dt.datetime) -> dt.datetime:
    """The latest time at or before `now` the schedule names (UTC)."""
    now = now.astimezone(dt.UTC)
    slot = now.replace(hour=schedule.at.hour, minute=schedule.at.minute, second=0, microsecond=0)
    if schedule.frequency == BackupSchedule.Frequency.DAILY:
        return slot if slot <= now else slot - dt.timedelta(days=1)
    if schedule.frequency == BackupSchedule.Frequency.WEEKLY:
        slot -= dt.timedelta(days=(slot.weekday() - schedule.weekday) % 7)
        return slot if slot <= now else slot - dt.timedelta(days=7)
    slot = slot.replace(day=schedule.monthday)
    if slot > now:  # the same day of the month before
        previous = slot.replace(day=1) - dt.timedelta(days=1)
        slot = previous.replace(day=schedule.monthday)
    return slot


def due(now: dt.datetime | None = None) -> list[tuple[VM, BackupSchedule, dt.datetime]]:
    """The VMs whose scheduled backup is due now, with their schedule and its time. A fixed
    number of queries, whatever the number of VMs."""
    now = now or timezone.now()
    schedules = {
        (s.vm_id and ("vm", s.vm_id)) or ("template", s.template_id): s
        for s in BackupSchedule.objects.all()
    }
    if not schedules:
        return []
    vm_ids = [key[1] for key in schedules if key[0] == "vm"]
    template_ids = [key[1] for key in schedules if key[0] == "template"]
    candidates = (
        VM.objects.filter(Q(pk__in=vm_ids) | Q(template_id__in=template_ids))
        .filter(state__in=[VMState.RUNNING, VMState.POWEROFF], host__isnull=False)
        .exclude(disk_mb=None)
        .annotate(last=Max("backups__created_at", filter=Q(backups__scheduled=True)))
        .select_related("host__provision", "owner")
    )
    found = []
    for vm in candidates:
        schedule = schedules.get(("vm", vm.pk)) or schedules.get(("template", vm.template_id))
        slot = latest_slot(schedule, now)
        if slot < max(schedule.created_at, vm.created_at):
            continue  # no time named since the schedule (or the VM) began
        if vm.last is None or vm.last < slot:
            found.append((vm, schedule, slot))
    return found


def run_due(now: dt.datetime | None = None) -> int:
    """Start the backups that are due; how many started."""
    started = 0
    for vm, schedule, _slot in due(now):
        if vm.jobs.filter(state__in=JOB_LIVE).exists():
            continue  # busy: the next cycle tries again
        try:
            services.backup(vm.owner, vm, scheduled=True, keep=schedule.keep_options())
        except ValidationError as exc:
            reason = " ".join(exc.messages)
            VMBackup.objects.create(
                vm=vm,
                store=None,
                state=BackupState.FAILED,
                scheduled=True,
                error=reason,
                requested_by="schedule",
                finished_at=timezone.now(),
            )
            vm_log(vm, f"scheduled backup ({schedule.describe()}) not taken: {reason}", "error")
            continue
        started += 1
    if started:
        log.info("backup schedules: %s backups started", started)
    return started


def cycle_ended(report) -> None:
    """monitoring.cyclehooks.cycle_ended: the backups due now are started."""
    run_due()
