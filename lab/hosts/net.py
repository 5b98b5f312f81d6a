"""Thin wrappers over iproute2 (argument lists only, never a shell)."""

import os
import signal
import subprocess
import time

VPC_BRIDGE_PREFIX = "elv-"


class NetError(Exception):
    pass


def run(*args: str, check: bool = True, netns: str | None = None) -> subprocess.CompletedProcess:
    argv = ["ip", "netns", "exec", netns, *args] if netns else list(args)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def link_exists(name: str) -> bool:
    return run("ip", "link", "show", name, check=False).returncode == 0


def ensure_bridge(name: str, address: str | None = None) -> None:
    if not link_exists(name):
        run("ip", "link", "add", name, "type", "bridge")
        if address:
            run("ip", "addr", "add", address, "dev", name)
    run("ip", "link", "set", name, "up")


def bridge_ports(name: str) -> list[str]:
    result = run("ip", "-o", "link", "show", "master", name, check=False)
    return [
        line.split(":")[1].strip().split("@")[0]
        for line in result.stdout.splitlines()
        if line.strip()
    ]


def delete_link(name: str) -> None:
    if link_exists(name):
        run("ip", "link", "del", name, check=False)


def namespaces() -> list[str]:
    result = run("ip", "netns", "list", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def namespace_pids(netns: str) -> list[int]:
    result = run("ip", "netns", "pids", netns, check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


def kill_namespace(netns: str, grace: float) -> None:
    """Every process in `netns` ended: SIGTERM, up to `grace` seconds, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = namespace_pids(netns)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and namespace_pids(netns):
            time.sleep(0.05)


def drop_unused_vpc_bridges() -> None:
    """VPC bridges no droplet is attached to any more (namespace hosts and QEMU guests alike)."""
    result = run("ip", "-o", "link", "show", "type", "bridge", check=False)
    for line in result.stdout.splitlines():
        name = line.split(":")[1].strip()
        if name.startswith(VPC_BRIDGE_PREFIX) and not bridge_ports(name):
            delete_link(name)
