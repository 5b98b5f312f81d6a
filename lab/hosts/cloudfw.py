"""A DigitalOcean cloud firewall in front of a lab host, made of iptables rules.

Why: on DigitalOcean a cloud firewall sits in the provider's network, outside the droplet, and
drops whatever no inbound rule allows before the droplet sees it. A lab host is a network
namespace plugged straight into the lab bridge, with nothing in between, so without this a
port closed in the simulator's firewall would stay reachable and no test could show that
closing a security group rule closes the port.

Where: the `mangle` table's PREROUTING chain of the host's namespace, for packets arriving on
the public interface. mangle PREROUTING runs after connection tracking (so replies to the
host's own connections are recognised as established) and before `nat` PREROUTING, where the
host's port forwards (ONE-PORTFWD) rewrite the destination: a filter in INPUT would never see
forwarded traffic, one in FORWARD would see it after the rewrite, with the container's port.
The host's own configuration only uses the nat and filter tables, so the two never meet.
(Unlike a real droplet's, the host's root could remove these rules; a lab does not mind.)

What: when no firewall covers the droplet, nothing (DigitalOcean lets everything in). Else a
chain: established/related packets pass, then one rule per inbound rule and IPv4 source of
every covering firewall (a droplet in several firewalls gets their union), then DROP.
Outbound rules are not enforced: the lab's outbound stays open. The public network of the lab
is IPv4 only, so IPv6 sources have nothing to match and are left out.

The rules are built in a second chain and the jump to the old one is replaced by a jump to the
new one in one `iptables -R`, so no packet ever meets a half-built rule set. Every value goes
to iptables as its own argument (never through a shell) and is checked first: the simulator
takes firewall addresses as the API sends them.
"""

import ipaddress
from dataclasses import dataclass

from lab.hosts import net

TABLE = "mangle"
CHAINS = ("EDGELAB-CLOUDFW-A", "EDGELAB-CLOUDFW-B")
PUBLIC_IF = "eth0"
PROTOCOLS = ("tcp", "udp", "icmp")


@dataclass(frozen=True)
class InboundRule:
    """One inbound rule as the lab enforces it: protocol, ports ("0" all, "22", "9001-59000")
    and the source addresses (CIDRs or single addresses)."""

    protocol: str
    ports: str
    addresses: tuple[str, ...]


def _dport(ports: str) -> list[str]:
    """iptables' --dport for DigitalOcean's ports string; ValueError when it is not one."""
    if ports == "0":
        return []
    words = str(ports).split("-")
    bounds = [int(w) for w in words if w.isdigit()]
    if len(bounds) != len(words) or len(bounds) > 2 or bounds[0] > bounds[-1]:
        raise ValueError(f"ports {ports!r} is not a port or a range")
    if not all(1 <= b <= 65535 for b in bounds):
        raise ValueError(f"ports {ports!r} is out of range")
    return ["--dport", ":".join(str(b) for b in bounds)]


def _ipv4_sources(addresses) -> list[str]:
    sources = []
    for address in addresses:
        try:
            network = ipaddress.ip_network(str(address).strip(), strict=False)
        except ValueError:
            continue  # the simulator does not check addresses; a bad one matches nothing
        if network.version == 4 and str(network) not in sources:
            sources.append(str(network))
    return sources


def chain_rules(rules: list[InboundRule]) -> list[list[str]]:
    """The chain's rules as iptables argument lists (after `-A CHAIN`), in order."""
    built = [["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"]]
    for rule in rules:
        if rule.protocol not in PROTOCOLS:
            continue
        ports = [] if rule.protocol == "icmp" else _dport(rule.ports)
        for source in _ipv4_sources(rule.addresses):
            built.append(["-p", rule.protocol, *ports, "-s", source, "-j", "RETURN"])
    built.append(["-j", "DROP"])
    return built


def _iptables(netns: str, *args: str, check: bool = True):
    return net.run("iptables", "-w", "-t", TABLE, *args, check=check, netns=netns)


def _jumps(netns: str) -> list[tuple[int, str]]:
    """(rule number in PREROUTING, chain) of every jump to one of our chains."""
    listing = _iptables(netns, "-S", "PREROUTING").stdout.splitlines()
    rules = [line.split() for line in listing if line.startswith("-A PREROUTING")]
    return [
        (number, words[-1])
        for number, words in enumerate(rules, start=1)
        if words[-2:-1] == ["-j"] and words[-1] in CHAINS
    ]


def apply(netns: str, rules: list[InboundRule] | None) -> None:
    """Make the host's firewall hold `rules` (None: no firewall covers it, let all in)."""
    jumps = _jumps(netns)
    current = jumps[0][1] if jumps else None
    if rules is None:
        for _, chain in reversed(jumps):
            _iptables(netns, "-D", "PREROUTING", "-i", PUBLIC_IF, "-j", chain, check=False)
        for chain in CHAINS:
            _drop_chain(netns, chain)
        return
    new = CHAINS[1] if current == CHAINS[0] else CHAINS[0]
    _drop_chain(netns, new)
    _iptables(netns, "-N", new)
    for spec in chain_rules(rules):
        _iptables(netns, "-A", new, *spec)
    if jumps:
        _iptables(netns, "-R", "PREROUTING", str(jumps[0][0]), "-i", PUBLIC_IF, "-j", new)
    else:
        _iptables(netns, "-I", "PREROUTING", "1", "-i", PUBLIC_IF, "-j", new)
    if current is not None:
        _drop_chain(netns, current)


def _drop_chain(netns: str, chain: str) -> None:
    _iptables(netns, "-F", chain, check=False)
    _iptables(netns, "-X", chain, check=False)
