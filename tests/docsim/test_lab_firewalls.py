"""The simulator tells its lab hosts which inbound rules to enforce whenever what covers them
changes (firewall created, replaced, given tags or droplets, deleted; droplet tagged or
untagged), and the iptables rules those become. No root needed: the hosts are a recording
fake here; tests/lab/test_secgroups_lab.py enforces them for real."""

import time

import pytest
import requests

from lab.docsim import start_in_thread
from lab.hosts.cloudfw import InboundRule, chain_rules
from tests.contract.session import checked

TOKEN = "lab-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SSH = {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}
WEB = {"protocol": "tcp", "ports": "8080", "sources": {"addresses": ["203.0.113.0/24"]}}
PING = {"protocol": "icmp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0"]}}
OUT = [{"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}]


class RecordingHosts:
    """Lab hosts that boot at once and remember the rules they were told to enforce."""

    def __init__(self):
        self.firewall: dict[int, list | None] = {}
        self.calls = 0

    def create(self, **kwargs):
        pass

    def destroy(self, droplet_id):
        self.firewall.pop(droplet_id, None)

    def destroy_all(self):
        self.firewall.clear()

    def apply_firewall(self, droplet_id, rules):
        self.calls += 1
        self.firewall[droplet_id] = rules


@pytest.fixture
def world():
    hosts = RecordingHosts()
    with start_in_thread(port=0, boot_delay=0, lab_hosts=hosts) as sim, checked(sim):
        yield sim, hosts


def call(sim, method, path, body=None):
    response = requests.request(
        method, f"{sim.url}/v2/{path}", headers=HEADERS, json=body, timeout=10
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def droplet(sim, name, tags):
    body = {
        "name": name,
        "region": "lon1",
        "size": "s-1vcpu-1gb",
        "image": "debian-12-x64",
        "tags": tags,
    }
    created = call(sim, "POST", "droplets", body)["droplet"]
    deadline = time.monotonic() + 5
    while call(sim, "GET", f"droplets/{created['id']}")["droplet"]["status"] != "active":
        assert time.monotonic() < deadline, "the droplet never became active"
        time.sleep(0.05)
    return created["id"]


def rule(protocol, ports, *addresses):
    return InboundRule(protocol, ports, tuple(addresses))


def test_hosts_enforce_the_rules_of_the_firewalls_that_cover_them(world):
    sim, hosts = world
    tagged, other = droplet(sim, "a", ["edge"]), droplet(sim, "b", [])
    assert hosts.firewall == {}  # no firewall: nothing to enforce, nothing applied

    firewall = call(
        sim,
        "POST",
        "firewalls",
        {"name": "fw", "tags": ["edge"], "inbound_rules": [SSH], "outbound_rules": OUT},
    )["firewall"]
    ssh = rule("tcp", "22", "0.0.0.0/0", "::/0")
    assert hosts.firewall == {tagged: [ssh]}

    # PUT replaces the rules and the members: the untagged droplet joins by its ID.
    body = {"name": "fw", "tags": ["edge"], "droplet_ids": [other], "outbound_rules": OUT}
    call(sim, "PUT", f"firewalls/{firewall['id']}", {**body, "inbound_rules": [SSH, WEB]})
    web = rule("tcp", "8080", "203.0.113.0/24")
    assert hosts.firewall == {tagged: [ssh, web], other: [ssh, web]}

    # A rule closed (removed) reaches both; asking again without a change applies nothing.
    call(sim, "PUT", f"firewalls/{firewall['id']}", {**body, "inbound_rules": [SSH]})
    assert hosts.firewall == {tagged: [ssh], other: [ssh]}
    calls = hosts.calls
    call(sim, "PUT", f"firewalls/{firewall['id']}", {**body, "inbound_rules": [SSH]})
    assert hosts.calls == calls

    # Untagged, the first droplet leaves the firewall: it lets everything in again.
    resources = [{"resource_id": str(tagged), "resource_type": "droplet"}]
    call(sim, "DELETE", "tags/edge/resources", {"resources": resources})
    assert hosts.firewall[tagged] is None and hosts.firewall[other] == [ssh]
    call(sim, "DELETE", f"firewalls/{firewall['id']}")
    assert hosts.firewall == {tagged: None, other: None}


def test_a_droplet_in_two_firewalls_gets_their_union_and_tag_sources_resolve(world):
    sim, hosts = world
    first = droplet(sim, "a", ["edge"])
    peer = droplet(sim, "peer", ["peers"])
    for name, rules in (("one", [SSH]), ("two", [PING])):
        body = {"name": name, "tags": ["edge"], "inbound_rules": rules, "outbound_rules": OUT}
        call(sim, "POST", "firewalls", body)
    assert hosts.firewall[first] == [
        rule("tcp", "22", "0.0.0.0/0", "::/0"),
        rule("icmp", "0", "0.0.0.0/0"),
    ]
    from_peers = {"protocol": "udp", "ports": "4789", "sources": {"tags": ["peers"]}}
    body = {"name": "three", "droplet_ids": [first], "inbound_rules": [from_peers]}
    call(sim, "POST", "firewalls", body)
    addresses = next(d for d in sim.state_snapshot()["droplets"] if d["id"] == peer)
    assert hosts.firewall[first][-1] == rule(
        "udp", "4789", addresses["public_ip"], addresses["private_ip"]
    )


def test_the_chain_lets_in_replies_then_each_ipv4_source_then_drops_the_rest():
    rules = [
        rule("tcp", "22", "0.0.0.0/0", "::/0"),
        rule("udp", "9001-59000", "0.0.0.0/0"),
        rule("icmp", "0", "0.0.0.0/0"),
        rule("tcp", "0", "10.96.0.0/20", "not an address", "10.96.0.7"),
    ]
    assert chain_rules(rules) == [
        ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
        ["-p", "tcp", "--dport", "22", "-s", "0.0.0.0/0", "-j", "RETURN"],
        ["-p", "udp", "--dport", "9001:59000", "-s", "0.0.0.0/0", "-j", "RETURN"],
        ["-p", "icmp", "-s", "0.0.0.0/0", "-j", "RETURN"],
        ["-p", "tcp", "-s", "10.96.0.0/20", "-j", "RETURN"],
        ["-p", "tcp", "-s", "10.96.0.7/32", "-j", "RETURN"],
        ["-j", "DROP"],
    ]
    with pytest.raises(ValueError, match="ports"):
        chain_rules([rule("tcp", "22; reboot", "0.0.0.0/0")])
