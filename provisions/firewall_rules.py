"""The provision's DigitalOcean firewall rules: least privilege by default.

Inbound, from anywhere: SSH (the portal configures hosts and opens consoles over it), the
forwarded ports of the public network (tcp and udp) and ICMP (ping, path-MTU discovery).
Inbound from the provision's VPC only: BGP (the EVPN sessions between hosts) and VXLAN (the
private networks' traffic). Outbound: everything (package installs, image downloads).

`rules_for(provision)` gives them in the API's shape, ready for POST or PUT /v2/firewalls:
the deploy and the repair of a deleted firewall use it, and per-provision rules (security
groups) are meant to be added to what it returns. DigitalOcean's contract: `ports` is a string,
"0" for all ports and for every ICMP rule; inbound rules have `sources`, outbound ones
`destinations`.
"""

from dataclasses import dataclass

from provisions.choices import ResourceKind
from provisions.models import CloudResource, Provision

EVERYWHERE = ["0.0.0.0/0", "::/0"]
ALL_PORTS = "0"
SSH = "22"
BGP = "179"
VXLAN = "4789"
# The public network's forwarded ports: a block of 100 per NIC from 9001 (the document's
# EXTERNAL_PORT_RANGE 9001:9100, then 9101:9200...), at most 500 blocks per host. vms owns the
# allocation (vms.choices) and provisions does not import vms, so the range is stated here and
# tests/provisions/test_firewall_rules.py checks that the two agree.
FORWARDED_PORTS = "9001-59000"


class UnknownVPCRange(ValueError):
    pass


@dataclass(frozen=True)
class FirewallRules:
    inbound: list[dict]
    outbound: list[dict]

    def as_api(self) -> dict:
        return {"inbound_rules": self.inbound, "outbound_rules": self.outbound}


def vpc_range(provision: Provision) -> str:
    """The provision's own VPC range, as DigitalOcean gave it when the VPC was made."""
    row = CloudResource.objects.filter(
        provision=provision, kind=ResourceKind.VPC, name=provision.tag
    ).first()
    ip_range = (row.data or {}).get("ip_range") if row else None
    if not ip_range:
        raise UnknownVPCRange(
            f"the VPC range of provision {provision.name} is not known yet (no VPC recorded)"
        )
    return ip_range


def _inbound(protocol: str, ports: str, addresses: list[str]) -> dict:
    return {"protocol": protocol, "ports": ports, "sources": {"addresses": list(addresses)}}


def _outbound(protocol: str) -> dict:
    return {"protocol": protocol, "ports": ALL_PORTS, "destinations": {"addresses": EVERYWHERE}}


def rules_for(provision: Provision) -> FirewallRules:
    vpc = [vpc_range(provision)]
    return FirewallRules(
        inbound=[
            _inbound("tcp", SSH, EVERYWHERE),
            _inbound("tcp", FORWARDED_PORTS, EVERYWHERE),
            _inbound("udp", FORWARDED_PORTS, EVERYWHERE),
            _inbound("icmp", ALL_PORTS, EVERYWHERE),
            _inbound("tcp", BGP, vpc),
            _inbound("udp", VXLAN, vpc),
        ],
        outbound=[_outbound("tcp"), _outbound("udp"), _outbound("icmp")],
    )
