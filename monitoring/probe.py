"""One probe of one host: one SSH connection running monitoring/hostscripts/probe.sh, parsed."""

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from hostexec import scripts
from hostexec.ssh import HostSession

SCRIPT = scripts.load("probe.sh", Path(__file__).parent / "hostscripts")


class ProbeError(Exception):
    """The host answered, but not with a probe we can read."""


@dataclass(frozen=True)
class Container:
    name: str
    state: str  # LXC's word: RUNNING, STOPPED, ... (GONE: lxc-info could not tell)
    cpu_seconds: float
    memory_mb: float
    net_rx_bytes: int
    net_tx_bytes: int


@dataclass(frozen=True)
class HostReading:
    cpu_total_ticks: int
    cpu_idle_ticks: int
    load1: float
    memory_total_mb: int
    memory_used_mb: int
    disk_total_mb: int
    disk_used_mb: int
    containers: dict[str, Container] = field(default_factory=dict)
    boot_id: str = ""  # changes when the host reboots (its network and containers start over)


def parse(output: str) -> HostReading:
    host = None
    boot_id = ""
    containers = {}
    done = False
    for number, line in enumerate(output.splitlines(), 1):
        fields = line.split()
        try:
            if fields[:1] == ["HOST"] and len(fields) == 8:
                total, idle = int(fields[1]), int(fields[2])
                mem_total, mem_avail = int(fields[4]), int(fields[5])
                host = dict(
                    cpu_total_ticks=total,
                    cpu_idle_ticks=idle,
                    load1=float(fields[3]),
                    memory_total_mb=mem_total // 1024,
                    memory_used_mb=max(0, mem_total - mem_avail) // 1024,
                    disk_total_mb=int(fields[6]) // 1024,
                    disk_used_mb=int(fields[7]) // 1024,
                )
            elif fields[:1] == ["BOOT"] and len(fields) == 2:
                boot_id = fields[1]
            elif fields[:1] == ["CT"] and len(fields) == 7:
                name = fields[1]
                containers[name] = Container(
                    name=name,
                    state=fields[2],
                    cpu_seconds=int(fields[3]) / 1e9,
                    memory_mb=int(fields[4]) / 2**20,
                    net_rx_bytes=int(fields[5]),
                    net_tx_bytes=int(fields[6]),
                )
            elif fields == ["DONE"]:
                done = True
        except ValueError:
            raise ProbeError(f"probe output line {number} unreadable: {line[:120]!r}") from None
    if host is None or not done:
        raise ProbeError("probe output incomplete (no HOST line or no DONE)")
    return HostReading(**host, containers=containers, boot_id=boot_id)


def probe(host) -> HostReading:
    """Connect once (no waiting: an unanswered probe is what monitoring reports) and read."""
    provision = host.provision
    session = HostSession(
        host.public_ip,
        private_key=provision.private_key(),
        host_key=provision.host_key_public,
        connect_timeout=settings.MONITOR_SSH_TIMEOUT,
    )
    with session:
        session.connect(wait=0)
        result = session.run_script(SCRIPT, {}, timeout=settings.MONITOR_SSH_TIMEOUT * 3)
    return parse(result.stdout)
