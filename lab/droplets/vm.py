"""Vm droplets: each a QEMU guest (TCG: /dev/kvm cannot run a Debian kernel on this machine
kind) booting the cached Debian 12 image through a qcow2 overlay of its own.

Network: lab.droplets.vmnet (a namespace per droplet); QEMU: lab.droplets.qemu.
The guest learns its addresses, keys, hostname and user data from the metadata service, as a
droplet does: its SMBIOS manufacturer is DigitalOcean, so cloud-init picks that datasource.

Status: `create` returns once the guest answers SSH (the simulator then makes it active);
power actions (`power`) stop, start or restart QEMU and return once the guest is off or
answers SSH again. State lives in `<base>/vms/<id>/` (overlay, console log, QMP socket).

`variant="bare"` boots the image without the user data's packages (a droplet as DigitalOcean
hands it over), so cloud-init installs them; `apt_proxy` (lab.droplets.aptcache) is then the
guests' way to a Debian mirror, given to apt through the vendor data.
"""

import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from lab.droplets import metadata, qemu, vmnet
from lab.droplets.image import ensure_base_image
from lab.hosts import net
from lab.hosts.manager import DEFAULT_BASE

log = logging.getLogger(__name__)

DEBIAN_IMAGE = "debian-12-x64"
# The guest's memory and vCPUs, at most: an emulated guest gains little from more, and the
# machine must hold several at once (each costs about its memory plus 100 MB of QEMU).
MAX_MEMORY_MB = int(os.environ.get("EDGE_LAB_VM_MAX_MEMORY", "1024"))
MAX_VCPUS = max(1, min(int(os.environ.get("EDGE_LAB_VM_MAX_VCPUS", "2")), os.cpu_count() or 1))
BOOT_TIMEOUT = float(os.environ.get("EDGE_LAB_VM_BOOT_TIMEOUT", "600"))


class VmDropletError(Exception):
    pass


def macs(droplet_id: int) -> tuple[str, str]:
    """The guest's public and private MACs, from its ID (locally administered, stable)."""
    tail = ":".join(f"{b:02x}" for b in int(droplet_id).to_bytes(4, "big"))
    return f"52:54:{tail}", f"52:55:{tail}"


def scaled(vcpus: int | None, memory_mb: int | None) -> tuple[int, int]:
    return (
        max(1, min(int(vcpus or 1), MAX_VCPUS)),
        max(512, min(int(memory_mb or 1024), MAX_MEMORY_MB)),
    )


class VmDroplets:
    def __init__(
        self,
        base_dir: str | os.PathLike | None = None,
        lock=None,
        variant: str = "full",
        apt_proxy: str | None = None,
    ):
        self.base = Path(base_dir or os.environ.get("EDGE_LAB_DIR", DEFAULT_BASE))
        self.variant, self.apt_proxy = variant, apt_proxy
        # Bridges are shared with the namespace hosts: one lock for both when given.
        self.lock = lock or threading.Lock()
        self._qemu: dict[int, subprocess.Popen] = {}
        self._metadata: dict[int, subprocess.Popen] = {}
        self._power_lock: dict[int, threading.Lock] = {}

    def vm_dir(self, droplet_id: int) -> Path:
        return self.base / "vms" / str(int(droplet_id))

    def has(self, droplet_id: int) -> bool:
        return (self.vm_dir(droplet_id) / "vm.json").exists()

    # -- create ---------------------------------------------------------------------------
    def create(
        self,
        *,
        droplet_id: int,
        name: str,
        public_ip: str,
        public_prefix: int = 15,
        gateway: str = "198.18.0.1",
        private_ip: str,
        private_prefix: int,
        vpc_uuid: str,
        authorized_keys: list[str],
        user_data: str | None = None,
        region: str = "nyc3",
        vcpus: int | None = None,
        memory: int | None = None,
        disk: int | None = None,
        ready_timeout: float | None = None,
        **_ignored,
    ) -> None:
        droplet_id = int(droplet_id)
        public = ipaddress.ip_interface(f"{public_ip}/{int(public_prefix)}")
        ipaddress.ip_interface(f"{private_ip}/{int(private_prefix)}")
        ipaddress.ip_address(gateway)
        self.destroy(droplet_id)  # a leftover from a crashed run must not get in the way
        image = ensure_base_image(variant=self.variant)
        directory = self.vm_dir(droplet_id)
        directory.mkdir(parents=True)
        cpus, memory_mb = _runnable_size(droplet_id, vcpus, memory)
        public_mac, private_mac = macs(droplet_id)
        doc = metadata.document(
            droplet_id=droplet_id,
            hostname=name,
            region=region,
            public_keys=authorized_keys,
            user_data=user_data,
            public_ip=str(public.ip),
            public_prefix=public.network.prefixlen,
            gateway=gateway,
            public_mac=public_mac,
            private_ip=private_ip,
            private_prefix=private_prefix,
            private_mac=private_mac,
            # Nothing answers DNS in the lab: the gateway refuses at once, where an address
            # that drops would make every lookup wait for its timeout.
            nameservers=[gateway],
            apt_proxy=self.apt_proxy,
        )
        metadata.write_tree(directory / "metadata", doc)
        spec = {
            "droplet_id": droplet_id,
            "name": name,
            "public_ip": str(public.ip),
            "private_ip": private_ip,
            "vpc_uuid": str(vpc_uuid),
            "vcpus": cpus,
            "memory_mb": memory_mb,
            "public_mac": public_mac,
            "private_mac": private_mac,
            "image": str(image.directory),
        }
        try:
            # The size's disk, as a droplet's: cloud-init's resizefs grows the root to it at
            # the first boot. Sparse, so it costs this machine only what the guest writes.
            qemu.overlay_disk(image.disk, directory / "disk.qcow2", size_gb=disk)
            (directory / "vm.json").write_text(json.dumps(spec, indent=2) + "\n")
            self._boot(droplet_id, public, gateway, str(vpc_uuid), ready_timeout)
        except (net.NetError, OSError, subprocess.SubprocessError, VmDropletError) as exc:
            self.destroy(droplet_id)
            raise VmDropletError(f"vm droplet {droplet_id} ({name}) failed: {exc}") from None

    def _boot(self, droplet_id: int, public, gateway: str, vpc_uuid: str, ready_timeout) -> None:
        """Network, metadata server and QEMU for a droplet whose files are written, then the
        wait for its SSH; the boot's seconds are kept in its directory."""
        vmnet.plumb(droplet_id, public, gateway, vpc_uuid, self.lock)
        self._start_metadata(droplet_id)
        started = time.monotonic()
        self._start_qemu(droplet_id)
        self._wait_ssh(droplet_id, ready_timeout or BOOT_TIMEOUT)
        (self.vm_dir(droplet_id) / "booted").write_text(f"{time.monotonic() - started:.1f}\n")

    def _start_metadata(self, droplet_id: int) -> None:
        directory = self.vm_dir(droplet_id)
        log_file = open(directory / "metadata.log", "ab")  # noqa: SIM115 - the child's
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{vmnet.namespace(droplet_id)}",
                sys.executable,
                "-m",
                "http.server",
                "80",
                "--bind",
                metadata.ADDRESS,
                "--directory",
                str(directory / "metadata"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
        log_file.close()
        self._metadata[droplet_id] = process
        (directory / "metadata.pid").write_text(str(process.pid))

    def _start_qemu(self, droplet_id: int) -> None:
        directory = self.vm_dir(droplet_id)
        spec = json.loads((directory / "vm.json").read_text())
        (directory / "qmp.sock").unlink(missing_ok=True)
        argv = qemu.command(droplet_id, directory, spec, vmnet.namespace(droplet_id))
        log_file = open(directory / "qemu.log", "ab")  # noqa: SIM115 - the child's
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
        log_file.close()
        previous = self._qemu.get(droplet_id)
        if previous is not None:
            previous.poll()  # reaped: it ended before this one started
        self._qemu[droplet_id] = process
        (directory / "qemu.pid").write_text(str(process.pid))

    def _wait_ssh(self, droplet_id: int, timeout: float) -> None:
        directory = self.vm_dir(droplet_id)
        address = json.loads((directory / "vm.json").read_text())["public_ip"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running(droplet_id):
                raise VmDropletError(f"QEMU ended: {self._tail(directory / 'qemu.log')}")
            try:
                with socket.create_connection((address, 22), timeout=2) as conn:
                    conn.settimeout(5)
                    if conn.recv(64).startswith(b"SSH-2.0"):
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise VmDropletError(
            f"no SSH on {address} after {timeout:.0f} s; console: "
            + self._tail(directory / "console.log")
        )

    @staticmethod
    def _tail(path: Path, size: int = 800) -> str:
        try:
            return path.read_text(errors="replace")[-size:]
        except OSError:
            return f"no {path.name}"

    # -- the guest's power ----------------------------------------------------------------
    def running(self, droplet_id: int) -> bool:
        process = self._qemu.get(int(droplet_id))
        return process is not None and process.poll() is None

    def power(self, droplet_id: int, action: str, timeout: float | None = None) -> str:
        """Do a droplet action to the guest; returns the status it leaves: "off" or
        "active" (the guest answers SSH again)."""
        droplet_id = int(droplet_id)
        timeout = timeout or BOOT_TIMEOUT
        lock = self._power_lock.setdefault(droplet_id, threading.Lock())
        with lock:
            if action == "power_off":
                self._stop(droplet_id, graceful=False)
                return "off"
            if action == "shutdown":
                self._stop(droplet_id, graceful=True)
                return "off"
            if action == "power_on":
                if not self.running(droplet_id):
                    self._start_qemu(droplet_id)
            elif action in ("power_cycle", "reboot"):
                self._stop(droplet_id, graceful=action == "reboot")
                self._start_qemu(droplet_id)
            else:
                raise VmDropletError(f"unknown action {action!r}")
            self._wait_ssh(droplet_id, timeout)
            return "active"

    def _stop(self, droplet_id: int, graceful: bool, grace: float = 120.0) -> None:
        process = self._qemu.get(droplet_id)
        if process is None or process.poll() is not None:
            return
        if graceful:
            # ACPI power button: systemd shuts the guest down and QEMU exits.
            try:
                qemu.qmp(self.vm_dir(droplet_id) / "qmp.sock", "system_powerdown")
                process.wait(timeout=grace)
                return
            except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
                log.warning("vm droplet %s: no clean shutdown (%s), killing", droplet_id, exc)
        process.kill()
        process.wait(timeout=30)

    # -- the cloud firewall -----------------------------------------------------------------
    def apply_firewall(self, droplet_id: int, rules) -> None:
        """Not enforced on vm droplets yet: their traffic is bridged, not routed, in their
        namespace (the namespace hosts' mangle rules would never see it)."""
        if rules is not None:
            log.warning("vm droplet %s: cloud firewall not enforced", droplet_id)

    def cpu_seconds(self, droplet_id: int) -> float | None:
        return None

    def boot_cpu_seconds(self, droplet_id: int) -> float | None:
        return None

    # -- destroy --------------------------------------------------------------------------
    def destroy(self, droplet_id: int) -> None:
        droplet_id = int(droplet_id)
        process = self._qemu.pop(droplet_id, None)
        vmnet.unplumb(droplet_id, self.lock)
        directory = self.vm_dir(droplet_id)
        for pid_file in ("qemu.pid", "metadata.pid"):
            # A QEMU from another process's run (lab down after lab up) is not in our table.
            try:
                os.kill(int((directory / pid_file).read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        # Our own children: reap them, or they linger as zombies.
        for child in (process, self._metadata.pop(droplet_id, None)):
            if child is not None:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)

    def destroy_all(self) -> None:
        ids = vmnet.droplet_ids()
        vms_dir = self.base / "vms"
        if vms_dir.is_dir():
            ids |= {int(p.name) for p in vms_dir.iterdir() if p.name.isdigit()}
        for droplet_id in sorted(ids):
            self.destroy(droplet_id)

    def list(self) -> list[dict]:
        found = []
        vms_dir = self.base / "vms"
        for directory in sorted(vms_dir.iterdir()) if vms_dir.is_dir() else []:
            try:
                spec = json.loads((directory / "vm.json").read_text())
            except (OSError, ValueError):
                continue
            spec["kind"] = "vm"
            spec["running"] = self.running(int(directory.name))
            found.append(spec)
        return found


def _runnable_size(droplet_id: int, vcpus, memory) -> tuple[int, int]:
    """The droplet's size scaled to what this machine can run, said in the log when it differs."""
    cpus, memory_mb = scaled(vcpus, memory)
    if (cpus, memory_mb) != (vcpus, memory):
        log.warning(
            "vm droplet %s: size %s vCPU / %s MiB runs as %s vCPU / %s MiB on this machine",
            droplet_id,
            vcpus,
            memory,
            cpus,
            memory_mb,
        )
    return cpus, memory_mb
