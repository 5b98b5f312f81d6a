"""What a user's or a group's VMs take of their quotas (core.quotas), registered in ready().

A VM counts from the moment its row exists until it is DONE, so a reservation made under the
quota's lock sees every VM an earlier one made. A VM runs (RUNNING_VMS) from its deploy until it
is powered off, and from the moment a resume is asked: the job that resumes it changes its
state later, and a second resume racing for the last unit must already see the first.
"""

from django.db.models import BigIntegerField, Count, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce

from core import quotas
from jobs.states import JOB_LIVE
from vms.choices import VMState
from vms.models import VM, PortBlock, VMSnapshot

RUNNING_STATES = (VMState.PENDING, VMState.PROLOG, VMState.BOOT, VMState.RUNNING, VMState.UNKNOWN)


def _alive(whose):
    return VM.objects.filter(**whose.filter()).exclude(state=VMState.DONE)


def vms(whose) -> int:
    return _alive(whose).count()


def running_vms(whose) -> int:
    resuming = Q(state=VMState.POWEROFF, jobs__action="resume", jobs__state__in=JOB_LIVE)
    found = _alive(whose).filter(Q(state__in=RUNNING_STATES) | resuming)
    return found.aggregate(n=Count("pk", distinct=True))["n"]


def _sum(whose, field):
    return _alive(whose).aggregate(n=Sum(field))["n"] or 0


def cpu(whose):
    return _sum(whose, "cpu")


def memory_mb(whose) -> int:
    return _sum(whose, "memory_mb")


def disk_mb(whose) -> int:
    return _sum(whose, "disk_mb")


def port_blocks(whose) -> int:
    return PortBlock.objects.filter(**whose.filter("nic__vm__")).count()


def snapshot_mb(whose) -> int:
    """What the snapshots take on the hosts; one still being copied counts as its whole disk
    until its size is known, so two taken at once cannot both slip under the limit."""
    taken = VMSnapshot.objects.filter(**whose.filter("vm__")).exclude(
        state=VMSnapshot.State.DELETING
    )
    # As a big integer before the product: PostgreSQL's integer overflows past 2 GB.
    whole_disk = Cast("disk_mb", BigIntegerField()) * Value(2**20)
    total = taken.aggregate(n=Coalesce(Sum(Coalesce("size_bytes", whole_disk)), 0))["n"]
    return -(-int(total) // 2**20)


def register() -> None:
    for counter in (vms, running_vms, cpu, memory_mb, disk_mb, port_blocks, snapshot_mb):
        quotas.register_counter(counter.__name__, counter)
