"""A vm droplet's network, all inside a namespace `edgevm-<id>` (nothing is routed in this
machine's own tables):
- br0: the guest's eth0 (tap0) and a veth to the lab bridge `edgelab0`, so the guest holds its
  public address on the lab network as a namespace host does; br0 itself carries
  169.254.169.254, where the metadata service answers. ebtables keep link-local traffic
  between the guest and br0: every vm droplet has its own 169.254.169.254, and on the shared
  bridge they would answer each other's guests.
- br1: the guest's eth1 (tap1) and a veth to the VPC's bridge (the one namespace hosts use).
"""

from lab.droplets import metadata
from lab.hosts import net
from lab.hosts.manager import BRIDGE, bridge_for_vpc

NETNS_PREFIX = "edgevm-"
LINK_LOCAL = "169.254.0.0/16"


def namespace(droplet_id: int) -> str:
    return f"{NETNS_PREFIX}{int(droplet_id)}"


def plumb(droplet_id: int, public, gateway: str, vpc_uuid: str, lock) -> None:
    """The droplet's namespace, its two bridges and their links to the lab's; LOCK guards the
    bridges shared with other droplets."""
    netns = namespace(droplet_id)
    vpc_bridge = bridge_for_vpc(vpc_uuid)
    with lock:
        net.ensure_bridge(BRIDGE, f"{gateway}/{public.network.prefixlen}")
        net.ensure_bridge(vpc_bridge)
        net.run("ip", "netns", "add", netns)
        for outside, inside, bridge in (
            (f"evp{droplet_id}", "eth0", BRIDGE),
            (f"evq{droplet_id}", "eth1", vpc_bridge),
        ):
            net.run(
                "ip", "link", "add", outside, "type", "veth", "peer", "name", inside,
                "netns", netns,
            )  # fmt: skip
            net.run("ip", "link", "set", outside, "master", bridge, "up")
    # A droplet made again gets the address of the one deleted: forget the old MAC.
    net.run("ip", "neigh", "flush", "to", str(public.ip), "dev", BRIDGE, check=False)
    for argv in _inside():
        net.run(*argv, netns=netns)


def _inside() -> list[tuple[str, ...]]:
    """The commands run inside the namespace: bridges for the taps, the metadata address, and
    the ebtables rules that keep link-local traffic off the shared bridges."""
    inside = [
        ("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"),
        ("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"),
        ("ip", "link", "set", "lo", "up"),
    ]
    for bridge, port, tap in (("br0", "eth0", "tap0"), ("br1", "eth1", "tap1")):
        inside += [
            ("ip", "link", "add", bridge, "type", "bridge"),
            ("ip", "tuntap", "add", tap, "mode", "tap"),
            ("ip", "link", "set", port, "master", bridge, "up"),
            ("ip", "link", "set", tap, "master", bridge, "up"),
            ("ip", "link", "set", bridge, "up"),
        ]
    inside.append(("ip", "addr", "add", f"{metadata.ADDRESS}/16", "dev", "br0"))
    for chain, match in (("INPUT", ["-i", "eth0"]), ("OUTPUT", ["-o", "eth0"]), ("FORWARD", [])):
        for proto, field in (
            ("ARP", "--arp-ip-dst"),
            ("ARP", "--arp-ip-src"),
            ("IPv4", "--ip-dst"),
            ("IPv4", "--ip-src"),
        ):
            drop = ("-p", proto, field, LINK_LOCAL, "-j", "DROP")
            inside.append(("ebtables", "-A", chain, *match, *drop))
    return inside


def unplumb(droplet_id: int, lock) -> None:
    """The namespace (and every process left in it) and the links to the lab's bridges."""
    netns = namespace(droplet_id)
    if netns in net.namespaces():
        net.kill_namespace(netns, grace=5)
        net.run("ip", "netns", "del", netns, check=False)
    with lock:
        for outside in (f"evp{droplet_id}", f"evq{droplet_id}"):
            net.delete_link(outside)
        net.drop_unused_vpc_bridges()


def droplet_ids() -> set[int]:
    """Droplets whose namespace exists, from this run or an earlier one."""
    return {
        int(ns[len(NETNS_PREFIX) :])
        for ns in net.namespaces()
        if ns.startswith(NETNS_PREFIX) and ns[len(NETNS_PREFIX) :].isdigit()
    }
