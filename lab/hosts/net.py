"""Thin wrappers over iproute2 (argument lists only, never a shell)."""

import subprocess


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
