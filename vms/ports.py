"""Port-forward block allocation: the lowest free block on a host, safe under concurrency."""

import random
import time

from django.db import IntegrityError, transaction

from provisions.models import Host
from vms.choices import MAX_BLOCKS_PER_HOST
from vms.models import NIC, PortBlock


class NoFreePorts(Exception):
    pass


def allocate(host, nic: NIC, attempts: int = 20) -> PortBlock:
    """Take the lowest free block on the host.

    On PostgreSQL the host row is locked (SELECT ... FOR UPDATE) for the rest of the caller's
    transaction, so allocators on one host queue instead of racing for the same lowest block.
    SQLite has no row locks but serialises writers; there the unique (host, block) constraint
    is what settles a race, and the loser retries after a short random pause.
    """
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                list(Host.objects.select_for_update().filter(pk=host.pk).values_list("pk"))
                used = set(PortBlock.objects.filter(host=host).values_list("block", flat=True))
                free = next((b for b in range(MAX_BLOCKS_PER_HOST) if b not in used), None)
                if free is None:
                    raise NoFreePorts(
                        f"host {host} has no free block of forwarded ports "
                        f"({MAX_BLOCKS_PER_HOST} NICs already have one)"
                    )
                return PortBlock.objects.create(host=host, block=free, nic=nic)
        except IntegrityError:
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
    raise NoFreePorts(f"could not allocate ports on {host} after {attempts} attempts")


def release(nic: NIC) -> None:
    PortBlock.objects.filter(nic=nic).delete()
