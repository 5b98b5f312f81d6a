"""Private networks (VXLAN + BGP-EVPN): address ranges, VNIs and their creation.

The rules live here and only here; provisions.services, the API and the pages call these.
A private network is one VXLAN segment (one VNI) stretched over every host of its cluster: each
host has a VXLAN device `vxlan<vni>` enslaved to a bridge `onevx<vni>`, and FRR learns the other
hosts' VTEPs and MACs through EVPN. NICs lease addresses from the network's range (vms.addresses).
"""

import ipaddress

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.names import check_name
from provisions import hostconfig
from provisions.choices import NetworkKind, ResourceKind
from provisions.models import CloudResource, Network, Provision

FIRST_VNI = 100
MAX_VNI = 16_777_215
# The default ranges 10.200.0.0/24, 10.201.0.0/24...: away from DigitalOcean's VPC defaults
# (10.1xx.0.0/20) and from the public bridge (192.168.150.0/24).
DEFAULT_SECOND_OCTETS = range(200, 256)
MIN_PREFIX, MAX_PREFIX = 16, 29


def _taken(provision: Provision) -> list:
    """Ranges a new private range must not overlap: the public bridge, the provision's VPC
    (when known) and its other private networks."""
    taken = [ipaddress.ip_interface(hostconfig.BRIDGE_CIDR).network]
    vpc = (
        CloudResource.objects.filter(provision=provision, kind=ResourceKind.VPC, name=provision.tag)
        .values_list("data", flat=True)
        .first()
    )
    if vpc and vpc.get("ip_range"):
        try:
            taken.append(ipaddress.ip_network(vpc["ip_range"], strict=False))
        except ValueError:
            pass
    others = Network.objects.filter(provision=provision, kind=NetworkKind.PRIVATE)
    for value in others.values_list("address_range", flat=True):
        try:
            taken.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue
    return taken


def check_range(provision: Provision, value: str) -> str:
    """A private IPv4 CIDR, /16 to /29, overlapping nothing the cluster already uses."""
    try:
        network = ipaddress.ip_network((value or "").strip(), strict=True)
    except ValueError:
        raise ValidationError(
            {"address_range": f"{value!r} is not a network in CIDR form, e.g. 10.210.0.0/24"}
        ) from None
    if network.version != 4 or not network.is_private:
        raise ValidationError(
            {
                "address_range": f"{network} is not a private IPv4 range "
                "(10/8, 172.16/12, 192.168/16)"
            }
        )
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise ValidationError(
            {
                "address_range": f"use a prefix from /{MIN_PREFIX} to /{MAX_PREFIX}, "
                f"not /{network.prefixlen}"
            }
        )
    for other in _taken(provision):
        if network.overlaps(other):
            raise ValidationError(
                {"address_range": f"{network} overlaps {other}, already used by {provision.name}"}
            )
    return str(network)


def default_range(provision: Provision) -> str:
    taken = _taken(provision)
    for octet in DEFAULT_SECOND_OCTETS:
        candidate = ipaddress.ip_network(f"10.{octet}.0.0/24")
        if not any(candidate.overlaps(other) for other in taken):
            return str(candidate)
    raise ValidationError({"address_range": "no free default range left; give one"})


def next_vni(provision: Provision) -> int:
    used = set(
        Network.objects.filter(provision=provision, vni__isnull=False).values_list("vni", flat=True)
    )
    vni = FIRST_VNI
    while vni in used:
        vni += 1
    if vni > MAX_VNI:
        raise ValidationError("no VXLAN network identifier left")
    return vni


def new_private_network(provision: Provision, name: str, address_range: str | None = None):
    """Create the row (inside the caller's transaction); hosts pick it up on their next
    EVPN configuration run."""
    name = check_name(name, kind="network name")
    if Network.objects.filter(provision=provision, name=name).exists():
        raise ValidationError({"name": f"{provision.name} already has a network named {name!r}"})
    address_range = (
        check_range(provision, address_range) if address_range else default_range(provision)
    )
    try:
        with transaction.atomic():
            return Network.objects.create(
                provision=provision,
                name=name,
                kind=NetworkKind.PRIVATE,
                address_range=address_range,
                vni=next_vni(provision),
            )
    except IntegrityError:
        raise ValidationError(
            {"name": f"network {name!r} was created at the same time by someone else; retry"}
        ) from None


def private_networks(provision: Provision) -> list[Network]:
    return list(
        Network.objects.filter(
            provision=provision, kind=NetworkKind.PRIVATE, vni__isnull=False
        ).order_by("vni")
    )


def networks_for(user):
    """Networks of the clusters a user may see (alive ones), with their lease count: the one
    queryset the API, the pages, the CLI and instantiate use."""
    from django.db.models import Count

    from provisions.choices import ProvisionState

    return (
        Network.objects.filter(provision__in=Provision.objects.for_user(user))
        .exclude(provision__state=ProvisionState.DONE)
        .select_related("provision")
        .annotate(lease_total=Count("leases"))
        .order_by("provision_id", "id")
    )


def network_leases(network: Network):
    """Who holds which address of a private network (VM, NIC, host), in one query."""
    # Through the reverse relation: vms builds on provisions, which never imports it.
    return network.leases.select_related("nic__vm__host").order_by("id")
