"""Both kinds of lab droplet behind the one interface the simulator drives (LabHosts').

A droplet made from a vm image (Debian 12) boots as a QEMU guest (lab.droplets.vm); every
other one is a namespace host (lab.hosts), the fast kind the scale benchmarks need. Calls about
an existing droplet go to the kind that made it.
"""

import threading

from lab.droplets.vm import DEBIAN_IMAGE, VmDroplets
from lab.hosts import LabHosts


class LabFleet:
    def __init__(
        self,
        hosts: LabHosts | None = None,
        vms: VmDroplets | None = None,
        vm_images: tuple[str, ...] = (DEBIAN_IMAGE,),
    ):
        self.hosts = hosts or LabHosts()
        self.vms = vms or VmDroplets(self.hosts.base, lock=self.hosts.lock)
        self.vm_images = set(vm_images)
        self.lock = self.hosts.lock
        self.base = self.hosts.base
        self._kinds: dict[int, str] = {}
        self._kinds_lock = threading.Lock()

    def kind(self, droplet_id: int) -> str:
        with self._kinds_lock:
            known = self._kinds.get(int(droplet_id))
        if known:
            return known
        return "vm" if self.vms.has(droplet_id) else "host"

    def _owner(self, droplet_id: int):
        return self.vms if self.kind(droplet_id) == "vm" else self.hosts

    def create(self, *, image: str | None = None, **args) -> None:
        kind = "vm" if image in self.vm_images else "host"
        with self._kinds_lock:
            self._kinds[int(args["droplet_id"])] = kind
        (self.vms if kind == "vm" else self.hosts).create(image=image, **args)

    def destroy(self, droplet_id: int) -> None:
        self._owner(droplet_id).destroy(droplet_id)
        with self._kinds_lock:
            self._kinds.pop(int(droplet_id), None)

    def destroy_all(self) -> None:
        self.vms.destroy_all()
        self.hosts.destroy_all()
        with self._kinds_lock:
            self._kinds.clear()

    def handles_power(self, droplet_id: int) -> bool:
        """Power actions act on the droplet itself (vm droplets); a namespace host has no
        power to cut, and its status follows the simulator's clock."""
        return self.kind(droplet_id) == "vm"

    def power(self, droplet_id: int, action: str) -> str:
        return self.vms.power(droplet_id, action)

    def apply_firewall(self, droplet_id: int, rules) -> None:
        self._owner(droplet_id).apply_firewall(droplet_id, rules)

    def cpu_seconds(self, droplet_id: int) -> float | None:
        return self._owner(droplet_id).cpu_seconds(droplet_id)

    def boot_cpu_seconds(self, droplet_id: int) -> float | None:
        return self._owner(droplet_id).boot_cpu_seconds(droplet_id)

    def host_dir(self, droplet_id: int):
        return self.hosts.host_dir(droplet_id)

    def kill_sshd(self, droplet_id: int) -> None:
        self.hosts.kill_sshd(droplet_id)

    def start_sshd(self, droplet_id: int, ready_timeout: float = 15.0) -> None:
        self.hosts.start_sshd(droplet_id, ready_timeout)

    def list(self) -> list[dict]:
        return self.hosts.list() + self.vms.list()
