"""Warm SSH in the lab: VM deploys, actions and consoles on one host reuse this process's one
connection to it (hostexec/ssh_pool.py) instead of opening one each, and the host sees one
session from the portal, not one per operation."""

import threading

import pytest

from consoles import ssh_pty
from hostexec import ssh_pool
from tests.lab.helpers import (
    host_output,
    wait_for,
)
from vms import services as vm_services

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


def portal_connections(host) -> int:
    """Established SSH connections on the host, less the one this count itself uses."""
    out = host_output(host, "ss -Htn state established '( sport = :22 )' | wc -l")
    return int(out.strip()) - 1


def test_deploys_and_actions_on_one_host_share_one_connection(
    cluster_with_vms,  # noqa: F811 - the fixture imported above
    owner,
):
    provision, vms = cluster_with_vms
    host = provision.hosts.get()
    opened = ssh_pool.opened()
    more = [
        vm_services.instantiate(owner, "Alpine", name=f"warm{i}", nics=["mon-public"])
        for i in range(4)
    ]
    for vm in more:
        vm.refresh_from_db()
        assert vm.state == "RUNNING", vm.failure_reason
    vm_services.act(owner, more[0], "poweroff")
    more[0].refresh_from_db()
    assert more[0].state == "POWEROFF", more[0].failure_reason
    vm_services.act(owner, more[0], "resume")
    more[0].refresh_from_db()
    assert more[0].state == "RUNNING", more[0].failure_reason
    # The fixture's two deploys opened the warm connection; these six operations opened none.
    assert ssh_pool.opened() == opened
    assert portal_connections(host) == 1


class Terminal:
    """One console as the consumer drives it: output gathered, the exit status kept."""

    def __init__(self, host, command: str):
        self.output = bytearray()
        self.ended = threading.Event()
        self.bridge = ssh_pty.open_pty(host, command, 80, 24, "xterm")
        self.bridge.start(on_output=self.output.extend, on_exit=lambda status: self.ended.set())

    def shows(self, text: bytes) -> bool:
        return text in bytes(self.output)


def test_consoles_are_channels_on_the_warm_connection(
    cluster_with_vms,  # noqa: F811 - the fixture imported above
):
    provision, vms = cluster_with_vms
    host = provision.hosts.get()
    opened = ssh_pool.opened()
    # Host commands stand for the console's lxc-attach: what matters is the SSH side.
    first = Terminal(host, "echo first-ready; exec sleep 987")
    second = Terminal(host, "cat")  # echoes what is typed
    wait_for(lambda: first.shows(b"first-ready"), "the first console's output")
    assert ssh_pool.opened() == opened  # the fixture's deploys opened it; consoles open none
    assert portal_connections(host) == 1
    first.bridge.close()  # the portal ends a console: its process gets SIGHUP
    wait_for(lambda: not host_output(host, "pgrep -f 'sleep [9]87' || true").strip(), "sleep ended")
    second.bridge.write(b"still-here\r")
    wait_for(lambda: second.shows(b"still-here"), "the second console, after the first ended")
    assert not second.ended.is_set()
    second.bridge.close()
    assert portal_connections(host) == 1  # given back to the pool, kept warm for what comes next
    assert ssh_pool.opened() == opened
