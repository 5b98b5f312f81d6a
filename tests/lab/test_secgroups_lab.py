"""Security groups for real: the lab enforces the simulator's firewall on its hosts
(lab.hosts.cloudfw), so a port a group opens is reachable at the host's public address and
closed again (dropped, as by DigitalOcean's firewall) when the rule goes, while the defaults
keep the portal's SSH and the VMs' forwarded ports open throughout. The defaults cannot lose
a port, so what is closed is a port a group rule opened."""

import socket
import subprocess
import sys
import time

import pytest

from jobs.states import JobState
from provisions.choices import JobKind
from provisions.secgroups import services as secgroup_services
from tests.lab.helpers import host_output
from vms import lxc
from vms.models import PortBlock

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

GROUP_PORT = 7000  # outside SSH and the forwarded range: only a group can open it
OPEN_7000 = {"protocol": "tcp", "ports": str(GROUP_PORT), "sources": {"addresses": ["0.0.0.0/0"]}}
LISTENER = """
import socket, sys
server = socket.create_server(("0.0.0.0", int(sys.argv[1])), reuse_port=True)
while True:
    connection, _ = server.accept()
    connection.sendall(b"open\\n")
    connection.close()
"""
PROBE = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print("open")
except OSError as exc:
    print(type(exc).__name__)
"""
WEB_SERVER = (
    'nohup sh -c \'while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\nfrom the vm" '
    "| nc -l -p 80; done' >/dev/null 2>&1 &"
)


def reach(address: str, port: int, timeout: float = 1.0) -> str:
    """ "open" (something answered), "refused" or "timeout" (dropped on the way)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            return "open" if connection.recv(16) else "closed"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error: {exc}"


def reach_within(address: str, port: int, wanted: str, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while (found := reach(address, port)) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def answers_inside(host, port: int, seconds: float = 10.0) -> bool:
    """Whether the port answers from inside the host's own namespace (over loopback, not
    through the public interface the firewall guards): the service is up."""
    argv = ["ip", "netns", "exec", f"edgelab-{host.droplet_id}", sys.executable, "-c", PROBE]
    deadline = time.monotonic() + seconds
    while True:
        result = subprocess.run([*argv, str(port)], capture_output=True, text=True, timeout=10)
        if result.stdout.strip() == "open" or time.monotonic() > deadline:
            return result.stdout.strip() == "open"
        time.sleep(0.2)


def firewall_inbound(sim, provision) -> list[dict]:
    (firewall,) = [f for f in sim.state_snapshot()["firewalls"] if f["name"] == provision.tag]
    return firewall["inbound_rules"]


def last_firewall_job(provision):
    return provision.jobs.filter(kind=JobKind.FIREWALL).latest("id")


@pytest.fixture
def listener(cluster_with_vms):  # noqa: F811 - the fixture imported above
    """A TCP server on GROUP_PORT inside the first host's namespace, as a service on the
    droplet itself would be."""
    provision, vms = cluster_with_vms
    host = vms[0].host
    process = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            f"edgelab-{host.droplet_id}",
            sys.executable,
            "-c",
            LISTENER,
            str(GROUP_PORT),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield host
    finally:
        process.kill()
        process.wait(timeout=5)


def test_a_group_rule_opens_a_port_and_removing_it_closes_the_port(
    lab_world,
    owner,
    cluster_with_vms,  # noqa: F811 - the fixture imported above
    listener,
):
    provision, vms = cluster_with_vms
    host, sim = listener, lab_world["sim"]
    vm = vms[0]
    forwarded = PortBlock.objects.get(nic__vm=vm).external_port(80)
    result = lxc.execute(vm, ["sh", "-c", WEB_SERVER], timeout=30)
    assert result.exit_status == 0, result.stdout + result.stderr

    # The defaults: SSH and the VM's forwarded port answer; the host's own service on 7000
    # is there (it answers from inside the host) but the firewall drops it from outside.
    assert reach_within(host.public_ip, 22, "open") == "open"
    assert reach_within(host.public_ip, forwarded, "open") == "open"
    assert answers_inside(host, GROUP_PORT)
    assert reach(host.public_ip, GROUP_PORT) == "timeout"
    assert OPEN_7000 not in firewall_inbound(sim, provision)

    # A group opens 7000: in the simulator's firewall, and through the host's public address.
    group = secgroup_services.create_group(owner, provision, name="svc", rules=[OPEN_7000])
    assert last_firewall_job(provision).state == JobState.SUCCESS
    assert OPEN_7000 in firewall_inbound(sim, provision)
    assert reach_within(host.public_ip, GROUP_PORT, "open") == "open"

    # The rule removed: gone from the firewall and dropped again; SSH and the VM still answer.
    secgroup_services.update_group(owner, group, rules=[])
    assert last_firewall_job(provision).state == JobState.SUCCESS
    assert OPEN_7000 not in firewall_inbound(sim, provision)
    assert reach(host.public_ip, GROUP_PORT) == "timeout"
    assert host_output(host, "echo portal-ssh-works").strip() == "portal-ssh-works"
    assert reach(host.public_ip, forwarded) == "open"
