"""A vm droplet (lab.droplets): the simulator boots debian-12-x64 as a QEMU guest whose own
cloud-init reads DigitalOcean's metadata service and applies the portal's user data.

One guest for the module (it boots in about a minute under TCG): created through the API with
the portal's user data, reached over SSH (the portal's HostSession) with the host key pinned
from that user data, power-cycled, destroyed.
"""

import os
import time
from types import SimpleNamespace

import pytest
import requests

from hostexec.keys import generate_ed25519
from lab.docsim import start_in_thread
from lab.droplets import image as vm_image
from provisions.cloud_init import BOOT_PACKAGES, MARKER, user_data
from tests.lab.conftest import require_vm_lab

BOOT_TIMEOUT = 900


def wait_for(what, check, timeout=BOOT_TIMEOUT, every=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout} s")


class Api:
    """The simulator's API over HTTP, as any client sees it (the module-scoped guest outlives
    each test's settings, so not through the portal's driver and its metrics)."""

    def __init__(self, url):
        self.url = url + "/v2/"
        self.headers = {"Authorization": "Bearer lab-token"}

    def call(self, method, path, body=None):
        response = requests.request(
            method, self.url + path, json=body, headers=self.headers, timeout=30
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def droplet(self, droplet_id):
        return self.call("GET", f"droplets/{droplet_id}")["droplet"]

    def action(self, action_id):
        return self.call("GET", f"actions/{action_id}")["action"]


@pytest.fixture(scope="module")
def vm_droplet(tmp_path_factory):
    require_vm_lab()
    from lab.droplets.fleet import LabFleet
    from lab.droplets.vm import VmDroplets
    from lab.hosts import LabHosts

    vm_image.ensure_base_image()
    base = tmp_path_factory.mktemp("edge-vm-lab")
    hosts = LabHosts(base)
    fleet = LabFleet(hosts, VmDroplets(base, lock=hosts.lock))
    client_key, host_key = generate_ed25519("portal"), generate_ed25519("host")
    provision = SimpleNamespace(
        host_key_private=lambda: host_key.private_openssh,
        host_key_public=host_key.public_openssh,
    )
    with start_in_thread(port=0, boot_delay=0, lab_hosts=fleet) as sim:
        api = Api(sim.url)
        key = api.call(
            "POST", "account/keys", {"name": "portal", "public_key": client_key.public_openssh}
        )["ssh_key"]
        started = time.monotonic()
        droplet = api.call(
            "POST",
            "droplets",
            {
                "name": "vm-a",
                "region": "ams3",
                "size": "s-1vcpu-1gb",
                "image": "debian-12-x64",
                "ssh_keys": [key["id"]],
                "tags": ["vmtest"],
                "user_data": user_data(provision),
            },
        )["droplet"]
        assert api.droplet(droplet["id"])["status"] == "new"
        droplet = wait_for(
            "droplet active",
            lambda: (d := api.droplet(droplet["id"]))["status"] == "active" and d,
        )
        world = SimpleNamespace(
            sim=sim,
            api=api,
            fleet=fleet,
            droplet=droplet,
            address=next(
                n["ip_address"] for n in droplet["networks"]["v4"] if n["type"] == "public"
            ),
            client_key=client_key,
            host_key=host_key,
            active_seconds=time.monotonic() - started,
        )
        print(f"\nvm droplet active (SSH) {world.active_seconds:.0f} s after create")
        yield world
        fleet.destroy_all()


def session(world, host_key=None):
    from hostexec.ssh import HostSession

    return HostSession(
        world.address,
        private_key=world.client_key.private_openssh,
        host_key=host_key or world.host_key.public_openssh,
    )


def test_base_image_carries_what_the_user_data_installs():
    assert set(BOOT_PACKAGES) <= set(vm_image.USER_DATA_PACKAGES)


def test_base_image_is_keyed_by_its_recipe():
    changed = dict(vm_image.recipe(), user_data_packages=["lxc"])
    assert vm_image.recipe_hash(changed) != vm_image.recipe_hash()
    assert vm_image.image_dir().name == f"debian-12-{vm_image.recipe_hash()}"


def test_metadata_has_what_cloud_inits_digitalocean_datasource_reads():
    from lab.droplets import metadata

    doc = metadata.document(
        droplet_id=7,
        hostname="vm-a",
        region="ams3",
        public_keys=["ssh-ed25519 AAAA portal"],
        user_data="#cloud-config\n",
        public_ip="198.18.0.9",
        public_prefix=15,
        gateway="198.18.0.1",
        public_mac="52:54:00:00:00:07",
        private_ip="10.96.0.2",
        private_prefix=20,
        private_mac="52:55:00:00:00:07",
        nameservers=["198.18.0.1"],
    )
    public, private = doc["interfaces"]["public"], doc["interfaces"]["private"]
    assert public[0]["ipv4"] == {
        "ip_address": "198.18.0.9",
        "netmask": "255.254.0.0",
        "gateway": "198.18.0.1",
    }
    # cloud-init 22.4 fails on an empty private list and on a missing dns.nameservers.
    assert private and private[0]["ipv4"]["netmask"] == "255.255.240.0"
    assert doc["dns"]["nameservers"] == ["198.18.0.1"]
    assert "disable_root: false" in doc["vendor_data"]


def test_a_size_larger_than_the_machine_gives_is_scaled_down():
    from lab.droplets.vm import MAX_MEMORY_MB, MAX_VCPUS, scaled

    assert scaled(1, 512) == (1, 512)
    assert scaled(64, 1 << 20) == (MAX_VCPUS, MAX_MEMORY_MB)


@pytest.mark.lab
def test_cloud_init_applies_the_portals_user_data_from_the_metadata_service(vm_droplet):
    started = time.monotonic()
    with session(vm_droplet) as ssh:
        ssh.connect(wait=30)
        status = ssh.run("cloud-init status --wait --long", timeout=BOOT_TIMEOUT).stdout
        print(f"\ncloud-init done {time.monotonic() - started:.0f} s after SSH answered")
        assert "status: done" in status
        assert "DataSourceDigitalOcean" in status
        # runcmd and the package step of the user data ran; the packages are there.
        ssh.run(f"test -f {MARKER}")
        ssh.run("dpkg-query -W " + " ".join(BOOT_PACKAGES))
        assert ssh.run("hostname").stdout.strip() == vm_droplet.droplet["name"]
        addresses = ssh.run("ip -4 -o addr show").stdout
        for network in vm_droplet.droplet["networks"]["v4"]:
            assert network["ip_address"] in addresses


@pytest.mark.lab
def test_the_host_key_is_the_one_from_user_data_and_another_is_refused(vm_droplet):
    from hostexec.ssh import HostKeyMismatch

    with session(vm_droplet) as ssh:
        ssh.connect(wait=30)
        public = ssh.run("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2]
        assert public == vm_droplet.host_key.public_openssh.split()[:2]
    impostor = generate_ed25519("impostor")
    with pytest.raises(HostKeyMismatch, match="refusing to connect"):
        session(vm_droplet, host_key=impostor.public_openssh).connect()


@pytest.mark.lab
def test_the_droplet_runs_systemd_on_cgroup2_with_apparmor(vm_droplet):
    with session(vm_droplet) as ssh:
        ssh.connect(wait=30)
        assert ssh.run("stat -fc %T /sys/fs/cgroup").stdout.strip() == "cgroup2fs"
        assert ssh.run("cat /sys/module/apparmor/parameters/enabled").stdout.strip() == "Y"
        assert ssh.run("cat /proc/1/comm").stdout.strip() == "systemd"
        state = ssh.run("systemctl is-system-running --wait", check=False, timeout=300)
        assert state.stdout.strip() == "running", ssh.run("systemctl --failed", check=False)


@pytest.mark.lab
def test_power_cycle_restarts_the_guest_and_it_comes_back_active(vm_droplet):
    api, droplet_id = vm_droplet.api, vm_droplet.droplet["id"]
    with session(vm_droplet) as ssh:
        ssh.connect(wait=30)
        boot_id = ssh.run("cat /proc/sys/kernel/random/boot_id").stdout.strip()
    action = api.call("POST", f"droplets/{droplet_id}/actions", {"type": "power_cycle"})["action"]
    assert api.droplet(droplet_id)["status"] == "off"
    wait_for("power_cycle done", lambda: api.action(action["id"])["status"] != "in-progress")
    assert api.action(action["id"])["status"] == "completed"
    assert api.droplet(droplet_id)["status"] == "active"
    with session(vm_droplet) as ssh:
        ssh.connect(wait=30)
        assert ssh.run("cat /proc/sys/kernel/random/boot_id").stdout.strip() != boot_id
        status = ssh.run("cloud-init status --wait", timeout=BOOT_TIMEOUT).stdout
        assert "status: done" in status


@pytest.mark.lab
def test_destroy_ends_the_guest_and_removes_its_overlay(vm_droplet):
    from lab.hosts import net

    droplet_id = vm_droplet.droplet["id"]
    vms = vm_droplet.fleet.vms
    directory = vms.vm_dir(droplet_id)
    pid = int((directory / "qemu.pid").read_text())
    assert (directory / "disk.qcow2").exists() and os.path.exists(f"/proc/{pid}")
    vm_droplet.api.call("DELETE", f"droplets/{droplet_id}")
    assert not directory.exists()
    assert f"edgevm-{droplet_id}" not in net.namespaces()
    assert not os.path.exists(f"/proc/{pid}")
    assert not net.link_exists(f"evp{droplet_id}")


def test_the_bare_variant_carries_none_of_the_user_datas_packages():
    bare = vm_image.recipe("bare")
    assert bare["user_data_packages"] == []
    assert vm_image.image_dir(variant="bare").name.startswith("debian-12-bare-")
    assert vm_image.recipe_hash(bare) != vm_image.recipe_hash()


def test_vendor_data_points_apt_at_the_lab_package_cache_when_there_is_one():
    from lab.droplets import metadata

    assert "apt:" not in metadata.vendor_data()
    with_cache = metadata.vendor_data("http://198.18.0.1:3142")
    assert with_cache.startswith("#cloud-config\n")
    assert "apt:\n  proxy: http://198.18.0.1:3142\n" in with_cache
