"""The LXC driver: container operations on a host, as versioned scripts over one SSH session."""

import ipaddress
import re
import shlex
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from core import outbound
from hostexec import scripts, ssh_pool
from hostexec.ssh import CommandFailed, SSHError
from provisions import hostconfig
from provisions.choices import NetworkKind
from provisions.hostconfig import evpn

SCRIPTS = Path(__file__).parent / "hostscripts"


class LXCError(Exception):
    pass


def script_text(name: str) -> str:
    """A host script with its included functions (rootfs.sh here; isolation.sh and steps.sh
    shared with host configuration)."""
    return scripts.load(name, SCRIPTS, hostconfig.SCRIPT_DIR)


def warm_session(host, wait: float):
    """This process's warm connection to the host (hostexec.ssh_pool): VM work opens a
    channel on it instead of a new SSH connection for each deploy or action."""
    provision = host.provision
    return ssh_pool.session(
        host.public_ip,
        private_key=provision.private_key(),
        host_key=provision.host_key_public,
        wait=wait,
    )


@contextmanager
def connected(host, script: str, wait: float):
    """A connected session to the host; failures become LXCError naming script and host."""
    try:
        with warm_session(host, wait) as session:
            yield session
    except CommandFailed as exc:
        raise LXCError(f"{script} on {host.name}: {exc}") from None
    except SSHError as exc:
        raise LXCError(str(exc)) from None


def _run(host, script: str, env: dict, log=None) -> str:
    with connected(host, script, wait=10) as session:
        result = session.run_script(script_text(script), env)
    if log is not None:
        for line in result.stdout.splitlines():
            if line.startswith(
                ("STEP ", "IMAGE ", "PORTS ", "ROOTFS ", "DISK ", "TRAVERSE ", "TIMES ", "DONE")
            ):
                log(f"{host.name}: {line}")
    return result.stdout


def run_checked(host, script: str, env: dict, log=None) -> str:
    """A host script's output; LXCError naming the script and host when it fails."""
    return _run(host, script, env, log)


def run_script(host, script: str, env: dict):
    """A host script whose refusals the caller reads: its result, whatever its exit status
    (LXCError only when the host cannot be reached)."""
    with connected(host, script, wait=10) as session:
        return session.run_script(script_text(script), env, check=False)


def destroy_on_host(host, vms, log=None) -> None:
    """Destroy several containers of one host over one SSH session (a cluster being deleted)."""
    script = script_text("vm-action.sh")
    with connected(host, "vm-action.sh", wait=0) as session:
        for vm in vms:
            session.run_script(script, {"VM": vm.container_name, "ACTION": "destroy"})
            if log is not None:
                log(f"{host.name}: container {vm.container_name} ({vm.name}) destroyed")


def containers_on(host) -> list[str]:
    """The names of the portal's containers on the host (one-<id>), whatever the portal has
    them as."""
    base = f'"${{ONE_EDGE_BASE:-{scripts.EDGE_BASE}}}/lxc"'
    with connected(host, "ls", wait=0) as session:
        result = session.run(f"ls -1 {base} 2>/dev/null || true", timeout=30, check=False)
    return [name for name in result.stdout.split() if re.fullmatch(r"one-\d+", name)]


def destroy_containers(host, names: list[str], log=None) -> None:
    """Destroy containers by name over one SSH session (vm-action.sh destroy)."""
    script = script_text("vm-action.sh")
    with connected(host, "vm-action.sh", wait=0) as session:
        for name in names:
            session.run_script(script, {"VM": name, "ACTION": "destroy"})
            if log is not None:
                log(f"{host.name}: container {name} destroyed")


def nic_lines(nics) -> str:
    """One line per NIC for vm-deploy.sh: `bridge address/prefix mac mtu gateway` ('-' for
    none). Every field is built from validated values, never from user text."""
    lines = []
    for nic in nics:
        network = nic.network
        if network.kind == NetworkKind.PUBLIC:
            interface = ipaddress.ip_interface(hostconfig.BRIDGE_CIDR)
            fields = [
                hostconfig.BRIDGE,
                f"{ipaddress.IPv4Address(nic.ip)}/{interface.network.prefixlen}",
                "-",
                "-",
                str(interface.ip),
            ]
        else:
            prefix = ipaddress.ip_network(network.address_range).prefixlen
            if not re.fullmatch(r"onevx\d{1,8}", network.bridge):
                raise LXCError(f"network {network.name} has no VXLAN bridge")
            if not re.fullmatch(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", nic.mac):
                raise LXCError(f"NIC{nic.index} of {nic.vm} has no valid MAC address")
            fields = [
                network.bridge,
                f"{ipaddress.IPv4Address(nic.ip)}/{prefix}",
                nic.mac,
                str(evpn.VXLAN_MTU),
                "-",
            ]
        lines.append(" ".join(fields))
    return "\n".join(lines)


def image_source(image) -> outbound.Target:
    """The image URL checked once more, now, and pinned to the addresses just checked: the host
    downloads from those (curl --resolve), so neither a stored URL that predates the check nor a
    name re-pointed since (DNS rebinding) makes a droplet fetch its metadata service."""
    try:
        return outbound.pin(image.url)
    except outbound.URLRefused as exc:
        raise LXCError(f"image {image.name}: URL refused: {exc.message}") from None


def isolation(vm) -> dict:
    """The container's isolation and limits, from its template (settings' defaults when the
    template is gone) and its own CPU quota: every value an integer, PRIVILEGED only for an
    operator's template."""
    template = vm.template
    privileged = template is not None and not template.lxc_unprivileged
    pids = template.pids_max if template is not None else None
    swap = template.swap_mb if template is not None else None
    return {
        "PRIVILEGED": 1 if privileged else 0,
        "PIDS_MAX": int(pids or settings.VM_PIDS_MAX_DEFAULT),
        "SWAP_MB": int(settings.VM_SWAP_MB_DEFAULT if swap is None else swap),
        "CPU_QUOTA_US": cpu_quota_us(vm.cpu_quota),
    }


def cpu_shares(cpu) -> int:
    """cgroup v1 cpu.shares for `cpu` CPUs (1 CPU -> 1024; cgroup v2's weight is made from it)."""
    return max(2, int(float(cpu) * 1024))


def cpu_quota_us(quota) -> int | str:
    """cpu.max over a 100 ms period: 0.5 CPU -> 50000 us, at least 1 ms; '' for no quota."""
    return max(1000, int(float(quota) * 100000)) if quota else ""


def deploy(
    vm, nics, port_first: int | None, ssh_key: str = "", log=None, existing_only=False, restored=""
) -> bool:
    """Deploy `vm`'s container, or with `existing_only` only start one that is on the host.
    False when `existing_only` found no container there (nothing was changed). `restored`: the
    path on the host of a disk the container is to have instead of a new one."""
    public = next((n for n in nics if n.network.kind == NetworkKind.PUBLIC), None)
    env = {
        "VM": vm.container_name,
        **image_env(vm.image),
        "NICS": nic_lines(nics),
        "IP": public.ip if public else "",
        "MEMORY_MB": vm.memory_mb,
        "CPU_SHARES": cpu_shares(vm.cpu),
        "DISK_MB": vm.disk_mb or "",
        "VM_HOSTNAME": "localhost",
        "PUBLIC_IP": vm.host.public_ip,
        "PORT_FIRST": (port_first or "") if public else "",
        "SSH_KEY": ssh_key,
        **isolation(vm),
        "EXISTING_ONLY": 1 if existing_only else 0,
        "RESTORED": restored,
    }
    stdout = _run(vm.host, "vm-deploy.sh", env, log)
    return not stdout.startswith("GONE ")


def image_env(image) -> dict:
    """What a host script needs to fetch the image: its URL pinned to the addresses just
    checked, and the checksum the download must match."""
    source = image_source(image)
    return {
        "IMAGE_URL": source.url,
        "IMAGE_RESOLVE": source.curl_resolve(),
        "IMAGE_SHA256": image.sha256,
    }


def prepare_image(host, image, log=None) -> bool:
    """Stage the image on the host (image-prepare.sh): downloaded, verified and unpacked as a
    first deploy would, before any VM asks for it. False when the host had it already."""
    stdout = _run(host, "image-prepare.sh", image_env(image), log)
    return "IMAGE cached" not in stdout


def action(vm, name: str, log=None) -> None:
    _run(vm.host, "vm-action.sh", {"VM": vm.container_name, "ACTION": name}, log)


class ResizeRefused(LXCError):
    """The host refused the new memory limit: the container uses more than that now."""


RESIZE_REFUSED = 3  # vm-resize.sh's exit status for a limit below the memory in use


def resize(vm, memory_mb: int, cpu, cpu_quota, log=None) -> str:
    """Set the container's memory and CPU limits (vm-resize.sh, under its deploy lock): live
    when it runs, and in its config file for its next start. Over the warm connection with no
    wait for an unreachable host: the user is waiting for the answer."""
    env = {
        "VM": vm.container_name,
        "MEMORY_MB": int(memory_mb),
        "SWAP_MB": isolation(vm)["SWAP_MB"],
        "CPU_SHARES": cpu_shares(cpu),
        "CPU_QUOTA_US": cpu_quota_us(cpu_quota),
    }
    with connected(vm.host, "vm-resize.sh", wait=0) as session:
        result = session.run_script(script_text("vm-resize.sh"), env, timeout=60, check=False)
    if result.exit_status == RESIZE_REFUSED:
        refusal = [line for line in result.stderr.splitlines() if line.startswith("REFUSED ")]
        raise ResizeRefused(refusal[-1].removeprefix("REFUSED ") if refusal else result.stderr)
    if result.exit_status != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise LXCError(
            f"vm-resize.sh on {vm.host.name} exited with status {result.exit_status}: {tail}"
        )
    if log is not None:
        for line in result.stdout.splitlines():
            if line.startswith(("BEFORE ", "AFTER ")):
                log(f"{vm.host.name}: {line}")
    return result.stdout


def attach_prefix(vm) -> str:
    """The host command that enters the VM's container (`lxc-attach`), up to its options;
    the container name, derived from the ID, quoted all the same."""
    return f'lxc-attach -P "${{ONE_EDGE_BASE:-{scripts.EDGE_BASE}}}/lxc" -n ' + shlex.quote(
        vm.container_name
    )


def execute(vm, argv: list[str], timeout: float = 120.0):
    """Run a command inside the container (`onevm ssh NAME -- cmd`)."""
    command = attach_prefix(vm) + " -- " + " ".join(shlex.quote(a) for a in argv)
    try:
        with warm_session(vm.host, wait=10) as session:
            return session.run(command, timeout=timeout, check=False)
    except SSHError as exc:
        raise LXCError(str(exc)) from None
