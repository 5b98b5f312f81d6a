"""Three droplets through the portal's driver against the simulator in lab mode: each is a
real host we SSH into with a pinned host key; private addresses reach each other; delete by tag
leaves no namespace, process or bridge."""

import subprocess
import time

import paramiko
import pytest

from hostexec.keys import generate_ed25519
from hostexec.ssh import HostKeyMismatch, HostSession
from lab.docsim import start_in_thread
from lab.hosts import net
from providers.drivers import DigitalOceanDriver
from providers.drivers.digitalocean import private_ipv4, public_ipv4
from tests.lab.helpers import cloud_config

pytestmark = pytest.mark.lab


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited process whose parent has not reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_active(driver, tag, count, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        droplets = driver.droplets(tag=tag)
        if len(droplets) == count and all(d["status"] == "active" for d in droplets):
            return droplets
        time.sleep(0.2)
    raise AssertionError(f"droplets not active: {[(d['name'], d['status']) for d in droplets]}")


def test_three_lab_droplets_ssh_private_network_and_cleanup(lab_hosts):
    client_key = generate_ed25519("portal")
    host_key = generate_ed25519("host")
    with start_in_thread(port=0, boot_delay=0.2, lab_hosts=lab_hosts, vpc_member_linger=1.0) as sim:
        driver = DigitalOceanDriver("lab-token", endpoint=sim.url + "/v2/")
        key = driver.create_ssh_key("portal", client_key.public_openssh)
        vpc = driver.create_vpc("lab-net", "ams3")
        driver.create_droplets(
            ["lab-a", "lab-b", "lab-c"],
            region="ams3",
            size="s-1vcpu-1gb",
            image="debian-12-x64",
            ssh_keys=[key["id"]],
            tags=["labtest"],
            vpc_uuid=vpc["id"],
            user_data=cloud_config(host_key),
        )
        droplets = wait_active(driver, "labtest", 3)
        privates = [private_ipv4(d) for d in droplets]
        for droplet in droplets:
            with HostSession(
                public_ipv4(droplet),
                private_key=client_key.private_openssh,
                host_key=host_key.public_openssh,
            ) as session:
                session.connect(wait=10)
                addresses = session.run("ip -4 -o addr show").stdout
                assert public_ipv4(droplet) in addresses and private_ipv4(droplet) in addresses
                base = session.run("echo $ONE_EDGE_BASE").stdout.strip()
                assert base.endswith(f"/hosts/{droplet['id']}/one-edge")
                for other in privates:
                    session.run(f"ping -c1 -W2 {other}")

        # A host presenting another key is refused, never trusted.
        impostor = generate_ed25519("impostor")
        with pytest.raises(HostKeyMismatch, match="refusing to connect"):
            HostSession(
                public_ipv4(droplets[0]),
                private_key=client_key.private_openssh,
                host_key=impostor.public_openssh,
            ).connect()

        namespaces = [f"edgelab-{d['id']}" for d in droplets]
        pids = [pid for ns in namespaces for pid in net.namespace_pids(ns)]
        assert pids and set(namespaces) <= set(net.namespaces())
        driver.delete_droplets_by_tag("labtest")
        assert driver.droplets(tag="labtest") == []
        assert not set(namespaces) & set(net.namespaces())
        assert not [pid for pid in pids if running(pid)]
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert "elv-" not in links
        assert not any(f"elp{d['id']}" in links for d in droplets)
        driver.delete_vpc(vpc["id"]) if not vpc["default"] else None


def test_private_networks_are_isolated_per_vpc(lab_hosts):
    client_key = generate_ed25519("portal")
    host_key = generate_ed25519("host")
    common = {
        "private_prefix": 20,
        "authorized_keys": [client_key.public_openssh],
        "user_data": cloud_config(host_key),
    }
    lab_hosts.create(
        droplet_id=1,
        name="a",
        public_ip="198.18.9.1",
        private_ip="10.50.0.2",
        vpc_uuid="aaaaaaaa-0000",
        **common,
    )
    lab_hosts.create(
        droplet_id=2,
        name="b",
        public_ip="198.18.9.2",
        private_ip="10.50.0.3",
        vpc_uuid="bbbbbbbb-0000",
        **common,
    )
    with HostSession(
        "198.18.9.1", private_key=client_key.private_openssh, host_key=host_key.public_openssh
    ) as session:
        session.connect(wait=5)
        assert session.run("ping -c1 -W1 10.50.0.3", check=False).exit_status != 0
        assert session.run("ping -c1 -W1 198.18.9.2", check=False).exit_status == 0
    lab_hosts.destroy(1)
    assert "edgelab-1" not in net.namespaces()
    assert any(h["droplet_id"] == 2 for h in lab_hosts.list())
    assert lab_hosts.list()[0]["host_key_fingerprint"].startswith("SHA256:")
    lab_hosts.destroy_all()
    assert not [ns for ns in net.namespaces() if ns.startswith("edgelab-")]
    assert not net.link_exists("edgelab0")
    assert paramiko  # the SSH library the portal uses is the one tested here
