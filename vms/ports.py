"""Port-forward block allocation: the lowest free block on a host, safe under concurrency."""

from django.db import IntegrityError, transaction

from vms.choices import MAX_BLOCKS_PER_HOST
from vms.models import NIC, PortBlock


class NoFreePorts(Exception):
    pass


def allocate(host, nic: NIC, attempts: int = 20) -> PortBlock:
    """Take the lowest free block. Two allocators racing for the same block: one insert wins
    the unique constraint, the other retries with the next free block."""
    for _ in range(attempts):
        used = set(PortBlock.objects.filter(host=host).values_list("block", flat=True))
        free = next((b for b in range(MAX_BLOCKS_PER_HOST) if b not in used), None)
        if free is None:
            raise NoFreePorts(f"host {host} has no free block of forwarded ports")
        try:
            with transaction.atomic():
                return PortBlock.objects.create(host=host, block=free, nic=nic)
        except IntegrityError:
            continue
    raise NoFreePorts(f"could not allocate ports on {host} after {attempts} attempts")


def release(nic: NIC) -> None:
    PortBlock.objects.filter(nic=nic).delete()
