"""What a vm droplet (lab.droplets) costs here: its base image, and a droplet's way from the
API's create to SSH, to cloud-init done, and back from a power_cycle. EMULATED: the guests run
under QEMU's TCG, several times slower than a real droplet; these are the lab's figures, not
DigitalOcean's.

`python -m bench.vm_droplet_boot [--droplets N] [--rebuild] [--variant bare]`: N droplets created
in one request (default 1), all measured; --rebuild builds the base image again first and times
it. `--variant bare` boots the image without the user data's packages, as DigitalOcean hands a
droplet over: cloud-init installs them from a Debian mirror through the lab's package cache
(lab.droplets.aptcache, Squid), the install path end to end; its power cycle is not measured.
"""

import argparse
import contextlib
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import paramiko
import requests
import yaml

from bench import common

TITLE = "vm_droplet_boot: a QEMU (TCG) lab droplet from create to cloud-init done (emulated)"
HEADERS = ["droplet", "create -> SSH s", "create -> cloud-init done s", "power_cycle -> SSH s"]


BOOT_TIMEOUT = 1200  # seconds: an emulated guest's boot on a busy machine
AUTH = {"Authorization": "Bearer lab-token"}  # the simulator takes any token


def user_data(private: str, public: str) -> str:
    """The shape of the portal's user data (provisions.cloud_init), without Django."""
    from lab.droplets.image import USER_DATA_PACKAGES

    config = {
        "ssh_deletekeys": True,
        "ssh_keys": {"ed25519_private": private, "ed25519_public": public},
        "package_update": True,
        "packages": USER_DATA_PACKAGES,
        "runcmd": [["mkdir", "-p", "/var/lib/one-edge"]],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def ed25519_pair(tmp: str, name: str) -> tuple[paramiko.Ed25519Key, str, str]:
    import subprocess

    path = f"{tmp}/{name}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    with open(path) as private, open(path + ".pub") as public:
        return (
            paramiko.Ed25519Key.from_private_key_file(path),
            private.read(),
            public.read().strip(),
        )


def ssh_run(address, client_key, host_key, command, timeout=900) -> str:
    client = paramiko.SSHClient()
    client.get_host_keys().add(address, host_key.get_name(), host_key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        address, username="root", pkey=client_key, timeout=30, allow_agent=False,
        look_for_keys=False,
    )  # fmt: skip
    try:
        _, stdout, _ = client.exec_command(command, timeout=timeout)
        return stdout.read().decode()
    finally:
        client.close()


def ssh_answers(address) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=2) as conn:
            conn.settimeout(5)
            return conn.recv(8).startswith(b"SSH-2.0")
    except OSError:
        return False


def _droplet(api: str, droplet_id: int) -> dict:
    return requests.get(f"{api}droplets/{droplet_id}", headers=AUTH, timeout=30).json()["droplet"]


def _create(api: str, count: int, client_public: str, host_private, host_public) -> list[dict]:
    """Ask the simulator for COUNT Debian droplets at once, as the portal's deploy does."""
    key = requests.post(
        api + "account/keys",
        json={"name": "bench", "public_key": client_public},
        headers=AUTH,
        timeout=30,
    ).json()["ssh_key"]
    return requests.post(
        api + "droplets",
        json={
            "names": [f"vm-{i}" for i in range(count)],
            "region": "ams3",
            "size": "s-1vcpu-1gb",
            "image": "debian-12-x64",
            "ssh_keys": [key["id"]],
            "user_data": user_data(host_private, host_public),
        },
        headers=AUTH,
        timeout=30,
    ).json()["droplets"]


def _follow(api: str, droplet_id: int, started: float, client_key, host_key) -> tuple:
    """Seconds from the create call until SSH answers and until cloud-init is done."""
    active = common.wait_until(
        lambda: (d := _droplet(api, droplet_id))["status"] == "active" and d,
        BOOT_TIMEOUT,
        f"droplet {droplet_id} to become active",
        every=0.5,
    )
    to_ssh = time.monotonic() - started
    address = next(n["ip_address"] for n in active["networks"]["v4"] if n["type"] == "public")
    status = ssh_run(address, client_key, host_key, "cloud-init status --wait")
    to_done = time.monotonic() - started
    if "status: done" not in status:
        raise RuntimeError(f"droplet {droplet_id}: cloud-init {status.strip()}")
    return droplet_id, address, to_ssh, to_done


def _power_cycle(api: str, droplet_id: int) -> float:
    """Seconds a power_cycle action takes until the droplet is active again."""
    cycle = time.monotonic()
    requests.post(
        f"{api}droplets/{droplet_id}/actions",
        json={"type": "power_cycle"},
        headers=AUTH,
        timeout=30,
    )
    common.wait_until(
        lambda: _droplet(api, droplet_id)["status"] == "active",
        BOOT_TIMEOUT,
        f"droplet {droplet_id} back after power_cycle",
        every=0.5,
    )
    return time.monotonic() - cycle


def _resident_mib(fleet, droplet_id: int) -> float:
    pid = int((fleet.vms.vm_dir(droplet_id) / "qemu.pid").read_text())
    with open(f"/proc/{pid}/status") as handle:
        rss = next(line for line in handle if line.startswith("VmRSS"))
    return int(rss.split()[1]) / 1024


def measure(count: int, rebuild: bool, variant: str = "full") -> tuple[list[list], list[str]]:
    from lab.docsim import start_in_thread
    from lab.droplets import image
    from lab.droplets.aptcache import AptCache
    from lab.droplets.fleet import LabFleet
    from lab.droplets.vm import VmDroplets
    from lab.hosts import LabHosts
    from lab.images import cache_dir

    notes = []
    if rebuild:
        import shutil

        shutil.rmtree(image.image_dir(variant=variant), ignore_errors=True)
    base = image.ensure_base_image(variant=variant).info()
    notes.append(
        f"{variant} base image {base['recipe_hash']}: built in {base['build_seconds']:.0f} s "
        f"(debootstrap, packages, ext4, qcow2), {base['disk_bytes'] / 2**20:.0f} MiB qcow2, "
        f"kernel {base['kernel']}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-vm-", ignore_cleanup_errors=True) as tmp,
        contextlib.ExitStack() as stack,
    ):
        client_key, _, client_public = ed25519_pair(tmp, "client")
        host_key, host_private, host_public = ed25519_pair(tmp, "host")
        apt_proxy = None
        if variant == "bare":
            cache = stack.enter_context(AptCache(cache_dir() / "aptcache"))
            apt_proxy = cache.url
        hosts = LabHosts(tmp)
        fleet = LabFleet(
            hosts, VmDroplets(tmp, lock=hosts.lock, variant=variant, apt_proxy=apt_proxy)
        )
        with start_in_thread(port=0, boot_delay=0, lab_hosts=fleet) as sim:
            api = sim.url + "/v2/"
            started = time.monotonic()
            created = _create(api, count, client_public, host_private, host_public)
            with ThreadPoolExecutor(max_workers=count) as pool:
                results = list(
                    pool.map(
                        lambda d: _follow(api, d["id"], started, client_key, host_key), created
                    )
                )
            memory = [_resident_mib(fleet, droplet_id) for droplet_id, *_ in results]
            rows = [
                [
                    droplet_id,
                    to_ssh,
                    to_done,
                    _power_cycle(api, droplet_id) if not apt_proxy else "-",
                ]
                for droplet_id, _address, to_ssh, to_done in results
            ]
            if apt_proxy:
                served = cache.served()
                notes.append(
                    f"packages from a Debian mirror through the lab's package cache {cache.url} "
                    f"(Squid): {served['requests']} requests, {served['hits']} from its cache, "
                    f"{served['bytes'] / 2**20:.0f} MiB served so far"
                )
            spec = fleet.vms.list()[0]
            notes.append(
                f"{count} guest(s) at once, each -smp {spec['vcpus']} -m {spec['memory_mb']} "
                f"(size s-1vcpu-1gb); QEMU resident memory at cloud-init done: "
                + ", ".join(f"{m:.0f} MiB" for m in memory)
            )
            fleet.destroy_all()
    return rows, notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vm_droplet_boot")
    parser.add_argument("--droplets", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--variant", choices=["full", "bare"], default="full")
    args = parser.parse_args(argv)
    problem = common.lab_problem()
    if problem:
        common.skipped(TITLE, problem, HEADERS, ["vm droplet"])
        return 0
    rows, notes = measure(args.droplets, args.rebuild, args.variant)
    common.table(TITLE, HEADERS, rows, notes)
    worst = max(rows, key=lambda row: row[2])
    common.summary(
        f"EMULATED (TCG), {args.variant} image: {len(rows)} vm droplet(s) answered SSH by "
        f"{max(r[1] for r in rows):.0f} s and finished cloud-init by {worst[2]:.0f} s after create"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
