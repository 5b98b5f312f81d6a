"""Quotas per group and per user (OpenNebula's VM quota: VMS, CPU, MEMORY, RUNNING_VMS, disk;
plus what is scarce here: hosts, public port blocks, snapshot and backup storage, the month's
spend).

A limit left empty is the default of its kind (settings.QUOTA_DEFAULTS: users have VM
limits by default, groups none); a resource without a limit is counted and shown, never
refused. What is in use is counted by the app that owns it, registered here in its ready()
(`register_counter("cpu", count_cpu)`), so this floor imports no app.

`reserve` is what every operation that takes something calls, inside the transaction that
takes it: it locks the user's row, then the group's, and counts under those locks, so two
requests racing for the last unit queue behind each other and the second sees the first's.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction

from core import signals
from core.groups import Group


@dataclass(frozen=True)
class Resource:
    name: str  # the model field and the API's key
    label: str  # OpenNebula's name, in messages and the CLI
    unit: str  # "", "MB" (shown as GB), "$"

    def shown(self, value) -> str:
        if value is None:
            return "-"
        if self.unit == "MB":
            if abs(Decimal(value)) < 1024:
                return f"{_short(Decimal(value))} MB"
            return f"{_short(Decimal(value) / 1024)} GB"
        if self.unit == "$":
            return f"${Decimal(value):.2f}"
        return _short(Decimal(value))


def _short(value: Decimal) -> str:
    """3.5, 4, 0.25: at most two decimals, none that say nothing."""
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


RESOURCES = (
    Resource("vms", "VMS", ""),
    Resource("running_vms", "RUNNING_VMS", ""),
    Resource("cpu", "CPU", ""),
    Resource("memory_mb", "MEMORY", "MB"),
    Resource("disk_mb", "DISK", "MB"),
    Resource("hosts", "HOSTS", ""),
    Resource("port_blocks", "PORT_BLOCKS", ""),
    Resource("snapshot_mb", "SNAPSHOTS", "MB"),
    Resource("backup_mb", "BACKUPS", "MB"),
    Resource("spend", "SPEND", "$"),
)
BY_NAME = {resource.name: resource for resource in RESOURCES}


class Quota(models.Model):
    """The limits of one user or one group (exactly one of the two); empty: the default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota",
    )
    group = models.OneToOneField(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="quota"
    )
    vms = models.PositiveIntegerField(null=True, blank=True)
    running_vms = models.PositiveIntegerField(null=True, blank=True)
    cpu = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    memory_mb = models.PositiveBigIntegerField(null=True, blank=True)
    disk_mb = models.PositiveBigIntegerField(null=True, blank=True)
    hosts = models.PositiveIntegerField(null=True, blank=True)
    port_blocks = models.PositiveIntegerField(null=True, blank=True)
    snapshot_mb = models.PositiveBigIntegerField(null=True, blank=True)
    backup_mb = models.PositiveBigIntegerField(null=True, blank=True)
    spend = models.DecimalField(
        "monthly spend (USD)", max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        db_table = "core_quota"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True) ^ models.Q(group__isnull=True),
                name="quota_of_user_or_group",
            )
        ]

    def __str__(self):
        return f"quota of {'group ' + self.group.name if self.group_id else self.user}"


@dataclass(frozen=True)
class Whose:
    """A user's or a group's objects, as a filter an app's counter applies to its model:
    `VM.objects.filter(**whose.filter())`, or `whose.filter("vm__")` through a relation."""

    user: object = None
    group: Group | None = None

    def filter(self, prefix: str = "") -> dict:
        if self.group is not None:
            return {f"{prefix}group": self.group}
        return {f"{prefix}owner": self.user}

    @property
    def kind(self) -> str:
        return "group" if self.group is not None else "user"

    @property
    def name(self) -> str:
        return self.group.name if self.group is not None else self.user.username

    def __str__(self):
        return f"{self.kind} {self.name}"


# resource name -> counter(whose) -> what is in use (int or Decimal)
_counters: dict[str, Callable[[Whose], object]] = {}


def register_counter(resource: str, counter: Callable[[Whose], object]) -> None:
    if resource not in BY_NAME:
        raise ValueError(f"no quota resource {resource!r}")
    _counters[resource] = counter


# More refusals of a reservation, by the apps above (costs: a group budget's hard stop):
# check(user, group, needs, what) raises ValidationError.
_checks: list[Callable] = []


def register_check(check: Callable) -> None:
    if check not in _checks:
        _checks.append(check)


def used(whose: Whose, resource: str):
    counter = _counters.get(resource)
    return counter(whose) if counter else 0


def limits(whose: Whose) -> dict:
    """Each resource's limit for the user or group (None: no limit)."""
    row = Quota.objects.filter(**{whose.kind: whose.group or whose.user}).first()
    defaults = settings.QUOTA_DEFAULTS.get(whose.kind, {})
    found = {}
    for resource in RESOURCES:
        value = getattr(row, resource.name) if row is not None else None
        found[resource.name] = value if value is not None else defaults.get(resource.name)
    return found


@dataclass(frozen=True)
class Line:
    resource: Resource
    used: object
    limit: object

    def as_dict(self) -> dict:
        return {
            "resource": self.resource.name,
            "label": self.resource.label,
            "used": _plain(self.used),
            "limit": _plain(self.limit),
            "used_text": self.used_text,
            "limit_text": self.limit_text,
        }

    @property
    def used_text(self) -> str:
        return self.resource.shown(self.used)

    @property
    def limit_text(self) -> str:
        return self.resource.shown(self.limit) if self.limit is not None else "-"

    @property
    def percent(self) -> int | None:
        if self.limit is None:
            return None
        if not self.limit:
            return 100
        return min(100, int(Decimal(self.used) * 100 / Decimal(self.limit)))


def _plain(value) -> str | None:
    """Numbers as text, like the API's money: whole ones bare, the rest with two decimals."""
    if value is None:
        return None
    if isinstance(value, int) or Decimal(value) == Decimal(value).to_integral_value():
        return str(int(value))
    return str(Decimal(value).quantize(Decimal("0.01")))


def report(whose: Whose, resources=None) -> list[Line]:
    """What the user or group uses of each resource, beside its limit."""
    found = limits(whose)
    names = resources or [resource.name for resource in RESOURCES]
    return [Line(BY_NAME[name], used(whose, name), found[name]) for name in names]


VM_RESOURCES = ("vms", "running_vms", "cpu", "memory_mb", "disk_mb", "port_blocks")
DROPLET_RESOURCES = ("hosts", "spend")


def for_decision(user, group, resources) -> list[tuple[str, list[Line]]]:
    """The user's and the group's use of `resources`, titled, for a form that takes them."""
    found = [(f"Your quotas ({user.username})", report(Whose(user=user), resources))]
    if group is not None:
        found.append((f"Quotas of group {group.name}", report(Whose(group=group), resources)))
    return found


def _refusal(whose: Whose, resource: Resource, in_use, limit, need, what: str) -> str:
    text = f"{whose}: {resource.label} {resource.shown(in_use)} of {resource.shown(limit)} used"
    if need:
        text += f", {what} needs {resource.shown(need)}"
    else:
        text += f", {what} needs some"
    return text + "; ask an admin of the group or an operator for a higher quota"


def lock(user, group) -> None:
    """The rows every reservation of this user and group queues on (user first, then group,
    everywhere, and before any other row, so two reservations never wait on each other in a
    circle)."""
    lock_ids(user.pk, group.pk if group is not None else None)


def lock_ids(user_id, group_id) -> None:
    # FOR NO KEY UPDATE: it queues reservations behind each other like FOR UPDATE, but lets
    # rows that merely point at the user or group (a job's, an event's, an audit entry's
    # foreign key takes FOR KEY SHARE) be written meanwhile; FOR UPDATE would block those, and
    # a transaction holding such a row and waiting for this one closes a deadlock.
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values("pk"))
    if group_id is not None:
        list(Group.objects.select_for_update(no_key=True).filter(pk=group_id).values("pk"))


def reserve(user, group, needs: dict, *, what: str = "this") -> None:
    """Refuse, with ValidationError naming the limit, when `needs` ({resource: amount}) would
    take the user or `group` past a quota; call it inside the transaction that then takes
    them. A resource with need 0 is refused only when its use is already at or over the
    limit (a backup's size is known once it is taken): give only the resources taken."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quotas.reserve runs inside the transaction that takes the resources")
    lock(user, group)
    for whose in (Whose(user=user), *([Whose(group=group)] if group is not None else [])):
        found = limits(whose)
        for name, need in needs.items():
            limit = found[name]
            if limit is None or need is None or need < 0:  # giving back is never refused
                continue
            in_use = used(whose, name)
            after = Decimal(in_use) + Decimal(need)
            if after > Decimal(limit) or (not need and Decimal(in_use) >= Decimal(limit)):
                # No warning is sent for a refusal: it rolls back with the transaction, and
                # the one asking is told. The warning went out when use crossed the level.
                raise ValidationError(_refusal(whose, BY_NAME[name], in_use, limit, need, what))
            if after * 100 >= Decimal(limit) * settings.QUOTA_WARN_PERCENT > Decimal(in_use) * 100:
                text = (
                    f"{whose}: {BY_NAME[name].label} {BY_NAME[name].shown(after)} of "
                    f"{BY_NAME[name].shown(limit)} used ({settings.QUOTA_WARN_PERCENT}% or more)"
                )
                _warn(whose, name, after, limit, text)
    for check in _checks:
        check(user, group, needs, what)


def _warn(whose: Whose, resource: str, in_use, limit, text: str) -> None:
    transaction.on_commit(
        lambda: signals.quota_warning.send(
            sender=Quota,
            group=whose.group,
            user=whose.user,
            resource=resource,
            used=in_use,
            limit=limit,
            text=text,
        ),
        robust=True,
    )


def check_grown(user, group, before: dict, *, what: str) -> None:
    """After an object moved to `user` or `group` (chown, chgrp) in this transaction: refuse
    when a resource grew past its limit by the move (`before`: usage() taken before it)."""
    for whose in (Whose(user=user), *([Whose(group=group)] if group is not None else [])):
        found = limits(whose)
        for name, limit in found.items():
            if limit is None:
                continue
            was = before[(whose.kind, name)]
            now = used(whose, name)
            if Decimal(now) > Decimal(was) and Decimal(now) > Decimal(limit):
                raise ValidationError(
                    _refusal(whose, BY_NAME[name], was, limit, Decimal(now) - Decimal(was), what)
                )
    if group is not None:
        # The checks of the floors above (a budget's hard stop) hear of the spend the move
        # brought, already counted in the group's month ("counted").
        grown = Decimal(used(Whose(group=group), "spend")) - Decimal(before[("group", "spend")])
        if grown > 0:
            for check in _checks:
                check(user, group, {"spend": grown, "counted": True}, what)


def usage(user, group) -> dict:
    """Every resource's use by the user and the group, for check_grown."""
    lock(user, group)
    found = {}
    for whose in (Whose(user=user), *([Whose(group=group)] if group is not None else [])):
        for name in BY_NAME:
            found[(whose.kind, name)] = used(whose, name)
    return found
