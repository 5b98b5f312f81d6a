"""Firewall rules as DigitalOcean takes them, stores them and returns them.

`ports` is a string: "0" for all ports (what every ICMP rule has, also when the request left
`ports` out), one port, or a range low-high. Inbound rules have `sources`, outbound ones
`destinations`. Anything else is a 400, the status the contract declares for firewall bodies.
"""

from lab.docsim.errors import bad_request


def valid_ports(ports: str) -> bool:
    """ "0" (all), one port, or a range low-high, within 1-65535."""
    if ports == "0":
        return True
    bounds = ports.split("-")
    if len(bounds) > 2 or not all(b.isdigit() and 1 <= int(b) <= 65535 for b in bounds):
        return False
    return int(bounds[0]) <= int(bounds[-1])


def checked_rules(body) -> dict:
    """The body's rule lists, checked and normalised, for the keys it has."""
    checked = {}
    for key, peers in (("inbound_rules", "sources"), ("outbound_rules", "destinations")):
        if key not in body:
            continue
        rules = body[key] or []
        if not isinstance(rules, list):
            raise bad_request(f"{key} must be a list")
        checked[key] = [_checked_rule(key, peers, rule) for rule in rules]
    return checked


def _checked_rule(key, peers, rule) -> dict:
    if not isinstance(rule, dict) or rule.get("protocol") not in ("tcp", "udp", "icmp"):
        raise bad_request(f"{key}: protocol must be tcp, udp or icmp")
    ports = rule.get("ports")
    if rule["protocol"] == "icmp":
        ports = "0" if ports in (None, "0", "") else ports
    if not isinstance(ports, str) or not valid_ports(ports):
        raise bad_request(
            f"{key}: ports {ports!r} is invalid: a port, a range like 8000-9000, "
            'or "0" for all ports' + (" (ICMP rules have no ports)" if ports else "")
        )
    if not isinstance(rule.get(peers), dict) or not rule[peers]:
        raise bad_request(f"{key}: every rule needs {peers}")
    return {"protocol": rule["protocol"], "ports": ports, peers: rule[peers]}
