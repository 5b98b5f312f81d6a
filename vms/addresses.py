"""Address leases on private networks: the lowest free address of the range, safe under
concurrency (the unique (network, ip) constraint settles races, like port blocks)."""

import ipaddress
import random
import time

from django.db import IntegrityError, transaction

from provisions.models import Network
from vms.models import NIC, Lease


class NoFreeAddress(Exception):
    pass


def mac_for(ip: str) -> str:
    """A locally administered MAC derived from the lease: unique within the network, stable
    across redeploys, and easy to find in the EVPN routes."""
    octets = ipaddress.IPv4Address(ip).packed
    return "02:ed:" + ":".join(f"{b:02x}" for b in octets)


def allocate(network: Network, nic: NIC, attempts: int = 20) -> Lease:
    """Take the lowest free address of the network's range for the NIC (and set its MAC)."""
    addresses = ipaddress.ip_network(network.address_range)
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                # PostgreSQL: allocators on one network queue here instead of racing.
                list(Network.objects.select_for_update().filter(pk=network.pk).values_list("pk"))
                used = set(Lease.objects.filter(network=network).values_list("ip", flat=True))
                free = next((str(a) for a in addresses.hosts() if str(a) not in used), None)
                if free is None:
                    raise NoFreeAddress(
                        f"network {network.name} ({network.address_range}) has no free address"
                    )
                lease = Lease.objects.create(network=network, ip=free, nic=nic)
                NIC.objects.filter(pk=nic.pk).update(ip=free, mac=mac_for(free))
                nic.ip, nic.mac = free, mac_for(free)
                return lease
        except IntegrityError:
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
    raise NoFreeAddress(f"could not lease an address on {network.name} after {attempts} attempts")


def release(nic: NIC) -> None:
    Lease.objects.filter(nic=nic).delete()
