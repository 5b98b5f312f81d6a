"""Security groups' rules: checking what users send, and the firewall they add up to.

The provision's cloud firewall is `firewall_rules.rules_for(provision)` (the defaults, which
carry the portal's SSH and the cluster's BGP/VXLAN and are never removable) plus every
security group's inbound rules. DigitalOcean firewalls only allow: a rule can open a port to
more sources, never close one, so nothing a group holds can cut the portal's SSH. What could
is a request to deny, to restrict outbound traffic or to change the defaults, and each is
refused with a message saying why, before anything is saved.

Pure functions only: the operations are in provisions.secgroups.services, the job that
applies the result in provisions.runs.firewall.
"""

import ipaddress

from django.core.exceptions import ValidationError

from provisions import firewall_rules
from provisions.models import Provision

PROTOCOLS = ("tcp", "udp", "icmp")
MAX_SOURCES = 20
# DigitalOcean allows 50 rules per firewall, inbound and outbound together; the defaults use
# some of them (rules_for), the groups share the rest.
MAX_FIREWALL_RULES = 50
RULE_FIELDS = {"protocol", "ports", "sources"}
DEFAULT_GROUP = "default"


def _ports(protocol: str, ports) -> str:
    """DigitalOcean's `ports` string: "0" for all (and for ICMP), "80" or "8000-8100"."""
    if protocol == "icmp":
        if ports not in (None, "", "0", 0):
            raise ValidationError("ICMP rules have no ports; leave ports out")
        return firewall_rules.ALL_PORTS
    if ports in (None, ""):
        raise ValidationError(f'{protocol} rules need ports: "80", "8000-8100" or "0" for all')
    text = str(ports).strip()
    if text in ("0", "all"):
        return firewall_rules.ALL_PORTS
    bounds = text.split("-")
    if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
        raise ValidationError(f'ports {text!r} is not a port or a range like "8000-8100"')
    low, high = int(bounds[0]), int(bounds[-1])
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise ValidationError(f"port {port} is out of range (1-65535)")
    if low > high:
        raise ValidationError(f"port range {text!r} runs backwards")
    return str(low) if low == high else f"{low}-{high}"


def _sources(sources) -> list[str]:
    # The DigitalOcean shape ({"addresses": [...]}) is taken too, so a rule read back from the
    # API can be sent again as it is.
    if isinstance(sources, dict):
        if set(sources) - {"addresses"}:
            raise ValidationError("sources are CIDRs: tags, droplets and load balancers are not")
        sources = sources.get("addresses")
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources:
        raise ValidationError('a rule needs sources: a list of CIDRs such as ["203.0.113.0/24"]')
    if len(sources) > MAX_SOURCES:
        raise ValidationError(f"a rule takes at most {MAX_SOURCES} sources ({len(sources)} given)")
    checked = []
    for source in sources:
        try:
            network = ipaddress.ip_network(str(source).strip(), strict=True)
        except ValueError as exc:
            raise ValidationError(f"source {str(source)[:60]!r} is not a CIDR: {exc}") from exc
        if str(network) not in checked:
            checked.append(str(network))
    return checked


def check_rule(rule) -> dict:
    """One rule as users send it, checked, in DigitalOcean's shape; ValidationError says why."""
    if not isinstance(rule, dict):
        raise ValidationError("a rule is an object: {protocol, ports, sources}")
    action = str(rule.get("action", "allow")).lower()
    protocol = str(rule.get("protocol", "")).lower()
    if action != "allow":
        ssh = protocol == "tcp" and _covers_ssh(rule.get("ports"))
        raise ValidationError(
            "DigitalOcean firewalls only allow traffic; a deny rule"
            + (" on SSH would cut the portal's own SSH to the hosts" if ssh else " cannot exist")
        )
    if str(rule.get("direction", "inbound")).lower() != "inbound":
        raise ValidationError(
            "security groups hold inbound rules; outbound stays open to everything (the "
            "portal's SSH replies and the hosts' downloads need it)"
        )
    unknown = set(rule) - RULE_FIELDS - {"action", "direction"}
    if unknown:
        raise ValidationError(f"unknown rule field(s): {', '.join(sorted(map(str, unknown)))}")
    if protocol not in PROTOCOLS:
        raise ValidationError(f"protocol must be tcp, udp or icmp, not {protocol[:20]!r}")
    return {
        "protocol": protocol,
        "ports": _ports(protocol, rule.get("ports")),
        "sources": {"addresses": _sources(rule.get("sources"))},
    }


def _covers_ssh(ports) -> bool:
    try:
        text = _ports("tcp", ports)
    except ValidationError:
        return True  # unreadable ports on a deny: assume the worst in the message
    if text == firewall_rules.ALL_PORTS:
        return True
    low, _, high = text.partition("-")
    return int(low) <= int(firewall_rules.SSH) <= int(high or low)


def check_rules(rules) -> list[dict]:
    """A group's rules; every message names the rule (1-based) it is about."""
    if not isinstance(rules, list):
        raise ValidationError("rules must be a list")
    checked = []
    for number, rule in enumerate(rules, start=1):
        try:
            checked.append(check_rule(rule))
        except ValidationError as exc:
            raise ValidationError(f"rule {number}: {exc.messages[0]}") from exc
    return checked


def desired(provision: Provision, groups=None) -> firewall_rules.FirewallRules:
    """The whole firewall: defaults first, then the groups' rules not already in it."""
    rules = firewall_rules.rules_for(provision)
    if groups is None:
        groups = provision.security_groups.all()
    inbound = list(rules.inbound)
    seen = {_key(r, "sources") for r in inbound}
    for group in groups:
        for rule in group.rules:
            if _key(rule, "sources") not in seen:
                seen.add(_key(rule, "sources"))
                inbound.append(rule)
    return firewall_rules.FirewallRules(inbound=inbound, outbound=list(rules.outbound))


def check_total(rules: firewall_rules.FirewallRules) -> None:
    total = len(rules.inbound) + len(rules.outbound)
    if total > MAX_FIREWALL_RULES:
        raise ValidationError(
            f"the firewall would have {total} rules; DigitalOcean allows {MAX_FIREWALL_RULES} "
            "(the defaults included)"
        )


def _key(rule: dict, peers: str) -> tuple:
    """A rule as comparable data: DigitalOcean may return empty peer lists and other orders."""
    found = rule.get(peers) or {}
    peer = tuple(sorted((k, tuple(sorted(map(str, v)))) for k, v in found.items() if v))
    return (rule.get("protocol"), str(rule.get("ports") or "0"), peer)


def keys(api_rules: dict) -> set[tuple]:
    """`{"inbound_rules", "outbound_rules"}` as a set of comparable rules."""
    inbound = {("in", *_key(r, "sources")) for r in api_rules.get("inbound_rules") or []}
    outbound = {("out", *_key(r, "destinations")) for r in api_rules.get("outbound_rules") or []}
    return inbound | outbound


def describe(rule_key: tuple) -> str:
    direction, protocol, ports, peers = rule_key
    where = ", ".join(a for _, addresses in peers for a in addresses) or "nothing"
    port_text = "" if protocol == "icmp" else f" {'all' if ports == '0' else ports}"
    return f"{direction}bound {protocol}{port_text} {'from' if direction == 'in' else 'to'} {where}"


def difference(before: dict, after: dict) -> str:
    """What turns `before` into `after`, for the job log: "added …; removed …"."""
    old, new = keys(before), keys(after)
    parts = []
    if new - old:
        parts.append("added " + "; ".join(sorted(describe(k) for k in new - old)))
    if old - new:
        parts.append("removed " + "; ".join(sorted(describe(k) for k in old - new)))
    return ", ".join(parts) or "no change"
