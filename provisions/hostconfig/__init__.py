"""Host configuration: versioned, idempotent shell scripts shipped over one SSH connection."""

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from hostexec import scripts
from hostexec.ssh import CommandFailed, HostSession

SCRIPT_DIR = Path(__file__).parent
SETUP_SCRIPT = "host-setup.sh"
VERSION = "2"
BRIDGE = "onebr0"
BRIDGE_CIDR = "192.168.150.1/24"

_CAPACITY = re.compile(r"^CAPACITY cpu=(\d+) memory_mb=(\d+) disk_mb=(\d+)$", re.M)
_DONE = re.compile(r"^DONE version=(\S+)$", re.M)
_BOOT_ID = re.compile(r"^BOOT_ID (\S+)$", re.M)


class HostConfigError(Exception):
    pass


@dataclass
class HostFacts:
    cpu: int
    memory_mb: int
    version: str
    output: str
    boot_id: str = ""
    disk_mb: int = 0  # the filesystem the VMs' disks live on


def script(name: str = SETUP_SCRIPT) -> str:
    return scripts.load(name, SCRIPT_DIR)


def isolation_env() -> dict:
    """The containers' id range and the host's reserve, from the settings (all integers)."""
    return {
        "ONE_SUBID_START": int(settings.VM_IDMAP_START),
        "ONE_SUBID_COUNT": int(settings.VM_IDMAP_COUNT),
        "ONE_HOST_RESERVED_MB": int(settings.HOST_RESERVED_MEMORY_MB),
        "ONE_VMS_PIDS_MAX": int(settings.HOST_VMS_PIDS_MAX),
    }


# host-setup.sh keeps at least this much memory for the host itself, whatever the setting.
HOST_KEEP_FLOOR_MB = 256


def kept_for_host_mb(total_mb: int) -> int:
    """The memory host-setup.sh keeps out of the containers' parent cgroup on a host with
    `total_mb`: the reserve asked for (HOST_RESERVED_MEMORY_MB), and at least 256 MB or a
    tenth; half of it on a host too small for that. The script and this must agree: what
    is left is all the VMs of the host may ever use (the parent's memory.max)."""
    keep = max(total_mb // 10, HOST_KEEP_FLOOR_MB, int(settings.HOST_RESERVED_MEMORY_MB))
    return keep if keep < total_mb else total_mb // 2


def configure(session: HostSession, log=None) -> HostFacts:
    """Run the set-up script on a connected host and read back what it reports."""
    env = {"ONE_BRIDGE": BRIDGE, "ONE_BRIDGE_CIDR": BRIDGE_CIDR, "ONE_PUBLIC_IF": "eth0"}
    env.update(isolation_env())
    try:
        result = session.run_script(script(), env)
    except CommandFailed as exc:
        raise HostConfigError(f"host set-up failed on {session.address}: {exc}") from None
    if log is not None:
        for line in result.stdout.splitlines():
            if line.startswith(
                (
                    "STEP ",
                    "CLOUD_INIT",
                    "PACKAGES",
                    "LXC_VERSION",
                    "CAPACITY",
                    "DONE",
                    "IDMAP",
                    "CGROUP",
                    "APPARMOR",
                    "IPTABLES",
                    "TIMES",
                    "BOOT_ID",
                )
            ):
                log(f"{session.address}: {line}")
    capacity = _CAPACITY.search(result.stdout)
    done = _DONE.search(result.stdout)
    if not capacity or not done:
        raise HostConfigError(
            f"host set-up on {session.address} did not report its capacity: "
            + (result.stdout.strip().splitlines() or ["no output"])[-1]
        )
    boot_id = _BOOT_ID.search(result.stdout)
    return HostFacts(
        int(capacity[1]),
        int(capacity[2]),
        done[1],
        result.stdout,
        boot_id[1] if boot_id else "",
        int(capacity[3]),
    )
