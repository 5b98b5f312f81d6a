"""Vm droplets (lab.droplets) in parts: the base image's recipe, the metadata document
cloud-init's DigitalOcean datasource reads, sizes scaled to the machine, the package cache.

The droplet suite (test_droplet_suite) boots the full image and walks the portal through it. Here,
optionally (EDGE_LAB_INSTALL_PATH=1, about 8 minutes emulated), one droplet boots the bare image,
a droplet as DigitalOcean hands it over, and its own cloud-init installs the user data's
packages from a Debian mirror through the lab's package cache (Squid).
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
def install_path_droplet(tmp_path_factory):
    """One droplet from the bare image (no user data packages), with apt pointed at the lab's
    package cache by the vendor data: the install path a fresh DigitalOcean droplet takes."""
    require_vm_lab()
    if os.environ.get("EDGE_LAB_INSTALL_PATH") != "1":
        pytest.skip(
            "INSTALL PATH NOT RUN: it takes about 8 minutes emulated (image build, boot, dpkg); "
            "run it with EDGE_LAB_INSTALL_PATH=1 (needs Squid, Debian package squid)"
        )
    from lab.droplets.aptcache import AptCache
    from lab.droplets.fleet import LabFleet
    from lab.droplets.vm import VmDroplets
    from lab.hosts import LabHosts
    from lab.images import cache_dir

    vm_image.ensure_base_image(variant="bare")
    base = tmp_path_factory.mktemp("edge-vm-lab")
    client_key, host_key = generate_ed25519("portal"), generate_ed25519("host")
    provision = SimpleNamespace(
        host_key_private=lambda: host_key.private_openssh,
        host_key_public=host_key.public_openssh,
    )
    with AptCache(cache_dir() / "aptcache") as cache:
        hosts = LabHosts(base)
        vms = VmDroplets(base, lock=hosts.lock, variant="bare", apt_proxy=cache.url)
        fleet = LabFleet(hosts, vms)
        with start_in_thread(port=0, boot_delay=0, lab_hosts=fleet) as sim:
            api = Api(sim.url)
            key = api.call(
                "POST", "account/keys", {"name": "portal", "public_key": client_key.public_openssh}
            )["ssh_key"]
            droplet = api.call(
                "POST",
                "droplets",
                {
                    "name": "bare-a",
                    "region": "ams3",
                    "size": "s-1vcpu-1gb",
                    "image": "debian-12-x64",
                    "ssh_keys": [key["id"]],
                    "user_data": user_data(provision),
                },
            )["droplet"]
            droplet = wait_for(
                "droplet active",
                lambda: (d := api.droplet(droplet["id"]))["status"] == "active" and d,
            )
            yield SimpleNamespace(
                api=api,
                cache=cache,
                droplet=droplet,
                address=next(
                    n["ip_address"] for n in droplet["networks"]["v4"] if n["type"] == "public"
                ),
                client_key=client_key,
                host_key=host_key,
            )
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
def test_a_bare_droplet_installs_the_user_datas_packages_through_the_package_cache(
    install_path_droplet,
):
    world = install_path_droplet
    started = time.monotonic()
    with session(world) as ssh:
        ssh.connect(wait=30)
        status = ssh.run("cloud-init status --wait --long", timeout=BOOT_TIMEOUT).stdout
        print(f"\ncloud-init done {time.monotonic() - started:.0f} s after SSH answered")
        assert "status: done" in status, status
        assert "DataSourceDigitalOcean" in status
        # The bare image has none of them: cloud-init installed every one, then ran runcmd.
        ssh.run("dpkg-query -W " + " ".join(BOOT_PACKAGES))
        ssh.run(f"test -f {MARKER}")
        proxy = ssh.run("apt-config dump Acquire::http::Proxy").stdout
        assert world.cache.url in proxy
    served = world.cache.served()
    assert served["requests"] > len(BOOT_PACKAGES), served


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


def test_the_package_cache_counts_what_squid_served_from_its_access_log(tmp_path):
    from lab.droplets.aptcache import AptCache

    cache = AptCache(tmp_path)
    assert cache.served() == {"requests": 0, "hits": 0, "bytes": 0}
    (tmp_path / "access.log").write_text(
        "1765000000.1 120 198.18.0.9 TCP_MISS/200 1048576 GET http://deb.debian.org/a.deb - "
        "HIER_DIRECT/151.101.2.132 application/vnd.debian.binary-package\n"
        "1765000001.2 3 198.18.0.10 TCP_HIT/200 1048576 GET http://deb.debian.org/a.deb - "
        "HIER_NONE/- application/vnd.debian.binary-package\n"
        "garbage\n"
    )
    assert cache.served() == {"requests": 2, "hits": 1, "bytes": 2 * 1048576}
