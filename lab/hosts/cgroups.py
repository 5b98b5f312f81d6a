"""Lab hosts' cgroups: CPU accounting per host, and the cgroups a destroyed host leaves."""

import re
import time
from pathlib import Path

# Every lab host's processes (sshd, sessions, commands, the daemons they start: FRR's daemonize,
# so child-time accounting would miss them) go into one cgroup per host, so the benchmarks can
# tell what host configuration costs the host, as a 1-vCPU droplet would pay it.
CGROUP_ROOT = Path("/sys/fs/cgroup")
ACCOUNTING = "edge-lab"
_CGROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def accounting_dir(droplet_id: int) -> Path | None:
    """The host's accounting cgroup: cgroup v2's unified tree, else v1's cpuacct hierarchy;
    None when neither is there (no cgroups mounted, a container without them)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return CGROUP_ROOT / ACCOUNTING / str(int(droplet_id))
    if (CGROUP_ROOT / "cpuacct" / "cpuacct.usage").exists():
        return CGROUP_ROOT / "cpuacct" / ACCOUNTING / str(int(droplet_id))
    return None


def account(droplet_id: int, pid: int) -> None:
    """Move `pid` (the sshd launcher, before its sshd forks anything) into the host's cgroup."""
    directory = accounting_dir(droplet_id)
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.procs").write_text(str(pid))
    except OSError:
        pass  # accounting is a measurement: a lab host works without it


def cpu_seconds(droplet_id: int) -> float | None:
    directory = accounting_dir(droplet_id)
    if directory is None:
        return None
    try:
        if (directory / "cpuacct.usage").exists():  # v1: nanoseconds
            return int((directory / "cpuacct.usage").read_text()) / 1e9
        # v2: cpu.stat has usage_usec whether or not the cpu controller is enabled.
        for line in (directory / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        pass
    return None


def _rmdir_tree(path: Path) -> None:
    """rmdir a cgroup and its empty children, deepest first. rmdir only: a cgroup that still
    has processes stays (EBUSY), nothing is ever killed here."""
    if not path.is_dir():
        return
    for child in sorted(
        (p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        try:
            child.rmdir()
        except OSError:
            pass
    try:
        path.rmdir()
    except OSError:
        pass


def drop(droplet_id: int, container_parent: str | None) -> None:
    directory = accounting_dir(droplet_id)
    if directory is not None:
        # The host's processes were just killed; their exit may take a moment to reach it.
        deadline = time.monotonic() + 2
        while directory.is_dir():
            try:
                directory.rmdir()
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
    # Host configuration makes the containers' parent cgroup (isolation.sh, one-edge-<hash>
    # on lab hosts) in every hierarchy; nothing removes it when the host goes, and on a
    # droplet nothing needs to. Here it is the host's: remove it where it is empty.
    if container_parent and _CGROUP_NAME.match(container_parent) and container_parent.strip("."):
        try:
            hierarchies = [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())]
        except OSError:
            return
        for hierarchy in hierarchies:
            _rmdir_tree(hierarchy / container_parent)


def container_parent(directory: Path) -> str | None:
    """CG_PARENT from the host's cgroup.env (written by host configuration), if any."""
    try:
        text = (directory / "one-edge" / "cgroup.env").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("CG_PARENT="):
            return line.split("=", 1)[1].strip() or None
    return None
