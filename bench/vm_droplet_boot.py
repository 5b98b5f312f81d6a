"""What a vm droplet (lab.droplets) costs here: its base image, and a droplet's way from the
API's create to SSH, to cloud-init done, and back from a power_cycle. EMULATED: the guests run
under QEMU's TCG, several times slower than a real droplet; these are the lab's figures, not
DigitalOcean's.

`python -m bench.vm_droplet_boot [--droplets N] [--rebuild]`: N droplets created in one request
(default 1), all measured; --rebuild builds the base image again first and times it.
"""

import argparse
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


def measure(count: int, rebuild: bool) -> tuple[list[list], list[str]]:
    from lab.docsim import start_in_thread
    from lab.droplets import image
    from lab.droplets.fleet import LabFleet
    from lab.droplets.vm import VmDroplets
    from lab.hosts import LabHosts

    notes = []
    if rebuild:
        import shutil

        shutil.rmtree(image.image_dir(), ignore_errors=True)
    base = image.ensure_base_image().info()
    notes.append(
        f"base image {base['recipe_hash']}: built in {base['build_seconds']:.0f} s "
        f"(debootstrap, packages, ext4, qcow2), {base['disk_bytes'] / 2**20:.0f} MiB qcow2, "
        f"kernel {base['kernel']}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-vm-", ignore_cleanup_errors=True) as tmp:
        client_key, _, client_public = ed25519_pair(tmp, "client")
        host_key, host_private, host_public = ed25519_pair(tmp, "host")
        hosts = LabHosts(tmp)
        fleet = LabFleet(hosts, VmDroplets(tmp, lock=hosts.lock))
        with start_in_thread(port=0, boot_delay=0, lab_hosts=fleet) as sim:
            api = sim.url + "/v2/"
            auth = {"Authorization": "Bearer lab-token"}
            key = requests.post(
                api + "account/keys",
                json={"name": "bench", "public_key": client_public},
                headers=auth,
                timeout=30,
            ).json()["ssh_key"]
            started = time.monotonic()
            created = requests.post(
                api + "droplets",
                json={
                    "names": [f"vm-{i}" for i in range(count)],
                    "region": "ams3",
                    "size": "s-1vcpu-1gb",
                    "image": "debian-12-x64",
                    "ssh_keys": [key["id"]],
                    "user_data": user_data(host_private, host_public),
                },
                headers=auth,
                timeout=30,
            ).json()["droplets"]

            def droplet(droplet_id):
                return requests.get(f"{api}droplets/{droplet_id}", headers=auth, timeout=30).json()[
                    "droplet"
                ]

            def follow(droplet_id):
                active = common.wait_until(
                    lambda: (d := droplet(droplet_id))["status"] == "active" and d,
                    BOOT_TIMEOUT,
                    f"droplet {droplet_id} to become active",
                    every=0.5,
                )
                to_ssh = time.monotonic() - started
                address = next(
                    n["ip_address"] for n in active["networks"]["v4"] if n["type"] == "public"
                )
                status = ssh_run(address, client_key, host_key, "cloud-init status --wait")
                to_done = time.monotonic() - started
                if "status: done" not in status:
                    raise RuntimeError(f"droplet {droplet_id}: cloud-init {status.strip()}")
                return droplet_id, address, to_ssh, to_done

            with ThreadPoolExecutor(max_workers=count) as pool:
                results = list(pool.map(follow, [d["id"] for d in created]))
            memory = []
            for droplet_id, *_ in results:
                pid = int((fleet.vms.vm_dir(droplet_id) / "qemu.pid").read_text())
                with open(f"/proc/{pid}/status") as handle:
                    rss = next(line for line in handle if line.startswith("VmRSS"))
                memory.append(int(rss.split()[1]) / 1024)
            rows = []
            for droplet_id, _address, to_ssh, to_done in results:
                cycle = time.monotonic()
                requests.post(
                    f"{api}droplets/{droplet_id}/actions",
                    json={"type": "power_cycle"},
                    headers=auth,
                    timeout=30,
                )
                common.wait_until(
                    lambda d=droplet_id: droplet(d)["status"] == "active",
                    BOOT_TIMEOUT,
                    f"droplet {droplet_id} back after power_cycle",
                    every=0.5,
                )
                rows.append([droplet_id, to_ssh, to_done, time.monotonic() - cycle])
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
    args = parser.parse_args(argv)
    problem = common.lab_problem()
    if problem:
        common.skipped(TITLE, problem, HEADERS, ["vm droplet"])
        return 0
    rows, notes = measure(args.droplets, args.rebuild)
    common.table(TITLE, HEADERS, rows, notes)
    worst = max(rows, key=lambda row: row[2])
    common.summary(
        f"EMULATED (TCG): {len(rows)} vm droplet(s) answered SSH by "
        f"{max(r[1] for r in rows):.0f} s and finished cloud-init by {worst[2]:.0f} s after create"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
