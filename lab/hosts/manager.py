import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import yaml

from lab.hosts import cloudfw, net

BRIDGE = "edgelab0"
NETNS_PREFIX = "edgelab-"
DEFAULT_BASE = "/var/lib/edge-lab"
CLOUD_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


class LabHostError(Exception):
    pass


# -- CPU accounting ---------------------------------------------------------------------------
# Every lab host's processes (sshd, sessions, commands, the daemons they start: FRR's daemonize,
# so child-time accounting would miss them) go into one cgroup per host, so the benchmarks can
# tell what host configuration costs the host, as a 1-vCPU droplet would pay it.
CGROUP_ROOT = Path("/sys/fs/cgroup")
ACCOUNTING = "edge-lab"
_CGROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _accounting_dir(droplet_id: int) -> Path | None:
    """The host's accounting cgroup: cgroup v2's unified tree, else v1's cpuacct hierarchy;
    None when neither is there (no cgroups mounted, a container without them)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return CGROUP_ROOT / ACCOUNTING / str(int(droplet_id))
    if (CGROUP_ROOT / "cpuacct" / "cpuacct.usage").exists():
        return CGROUP_ROOT / "cpuacct" / ACCOUNTING / str(int(droplet_id))
    return None


def _account(droplet_id: int, pid: int) -> None:
    """Move `pid` (the sshd launcher, before its sshd forks anything) into the host's cgroup."""
    directory = _accounting_dir(droplet_id)
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.procs").write_text(str(pid))
    except OSError:
        pass  # accounting is a measurement: a lab host works without it


def _cpu_seconds(droplet_id: int) -> float | None:
    directory = _accounting_dir(droplet_id)
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


def _drop_cgroups(droplet_id: int, container_parent: str | None) -> None:
    directory = _accounting_dir(droplet_id)
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


def _container_parent(directory: Path) -> str | None:
    """CG_PARENT from the host's cgroup.env (written by host configuration), if any."""
    try:
        text = (directory / "one-edge" / "cgroup.env").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("CG_PARENT="):
            return line.split("=", 1)[1].strip() or None
    return None


def _vpc_bridge(vpc_uuid: str) -> str:
    return "elv-" + vpc_uuid.replace("-", "")[:10]


def _host_keys_from_user_data(user_data: str | None) -> dict[str, tuple[str, str]]:
    """cloud-init's `ssh_keys` (the only cloud-config key the lab honours)."""
    if not user_data or not user_data.lstrip().startswith("#cloud-config"):
        return {}
    try:
        config = yaml.safe_load(user_data) or {}
    except yaml.YAMLError as exc:
        raise LabHostError(f"user data is not valid cloud-config YAML: {exc}") from None
    keys = config.get("ssh_keys") or {}
    found = {}
    for key_type in CLOUD_KEY_TYPES:
        private, public = keys.get(f"{key_type}_private"), keys.get(f"{key_type}_public")
        if private and public:
            found[key_type] = (private, public)
    return found


SSHD_CONFIG = """\
# Lab host {droplet_id} ({name}); generated by lab.hosts
Port 22
ListenAddress 0.0.0.0
{host_keys}
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 50
# Configuration run over SSH keeps its state here, not in the machine's /var/lib; FRR runs its
# own daemons from there too (config, vty sockets, pid files), never the machine's service.
# SHLVL=1: bash skips ~/.bashrc for commands run by sshd. Lab hosts share this machine's /root,
# whose .bashrc (pyenv init...) cost 0.3 CPU-s per command; a fresh droplet's costs nothing.
SetEnv ONE_EDGE_BASE={dir}/one-edge ONE_FRR_STANDALONE=1 SHLVL=1
Subsystem sftp internal-sftp
"""


class LabHosts:
    def __init__(self, base_dir: str | os.PathLike | None = None):
        self.base = Path(base_dir or os.environ.get("EDGE_LAB_DIR", DEFAULT_BASE))
        self.lock = threading.Lock()
        self._sshd: dict[int, subprocess.Popen] = {}

    def host_dir(self, droplet_id: int) -> Path:
        return self.base / "hosts" / str(int(droplet_id))

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
        ready_timeout: float = 15.0,
    ) -> None:
        droplet_id = int(droplet_id)
        public = ipaddress.ip_interface(f"{public_ip}/{int(public_prefix)}")
        private = ipaddress.ip_interface(f"{private_ip}/{int(private_prefix)}")
        ipaddress.ip_address(gateway)
        netns = f"{NETNS_PREFIX}{droplet_id}"
        vpc_bridge = _vpc_bridge(str(vpc_uuid))
        self.destroy(droplet_id)  # a leftover from a crashed run must not get in the way
        directory = self.host_dir(droplet_id)
        (directory / "one-edge").mkdir(parents=True, exist_ok=True)
        try:
            with self.lock:
                net.ensure_bridge(BRIDGE, f"{gateway}/{public.network.prefixlen}")
                net.ensure_bridge(vpc_bridge)
                net.run("ip", "netns", "add", netns)
                for outside, inside, bridge in (
                    (f"elp{droplet_id}", "eth0", BRIDGE),
                    (f"elq{droplet_id}", "eth1", vpc_bridge),
                ):
                    net.run(
                        "ip",
                        "link",
                        "add",
                        outside,
                        "type",
                        "veth",
                        "peer",
                        "name",
                        inside,
                        "netns",
                        netns,
                    )
                    net.run("ip", "link", "set", outside, "master", bridge, "up")
            net.run("ip", "link", "set", "lo", "up", netns=netns)
            # A droplet made again (a repair) gets the addresses of the one deleted: announce
            # them when the links come up, or this machine and the VPC peers keep sending to
            # the old MAC until their neighbour entries expire (sshd "not ready" meanwhile).
            net.run("sysctl", "-qw", "net.ipv4.conf.all.arp_notify=1", netns=netns)
            net.run("ip", "neigh", "flush", "to", str(public.ip), "dev", BRIDGE, check=False)
            net.run("ip", "addr", "add", str(public), "dev", "eth0", netns=netns)
            net.run("ip", "link", "set", "eth0", "up", netns=netns)
            net.run("ip", "addr", "add", str(private), "dev", "eth1", netns=netns)
            net.run("ip", "link", "set", "eth1", "up", netns=netns)
            net.run("ip", "route", "add", "default", "via", gateway, netns=netns)
            self._write_ssh_files(directory, droplet_id, name, authorized_keys, user_data)
            self._sshd[droplet_id] = self._start_sshd(directory, droplet_id)
            self._wait_ready(str(public.ip), directory, ready_timeout)
        except (net.NetError, OSError, subprocess.SubprocessError) as exc:
            self.destroy(droplet_id)
            raise LabHostError(f"lab host {droplet_id} ({name}) failed: {exc}") from None
        (directory / "info").write_text(f"{name} {public.ip} {private.ip} {vpc_uuid}\n")

    def _write_ssh_files(self, directory: Path, droplet_id, name, authorized_keys, user_data):
        key_files = []
        pinned = _host_keys_from_user_data(user_data)
        for key_type, (private, public) in pinned.items():
            path = directory / f"ssh_host_{key_type}_key"
            path.write_text(private.strip() + "\n")
            path.chmod(0o600)
            path.with_suffix(".pub").write_text(public.strip() + "\n")
            key_files.append(path)
        if not key_files:
            path = directory / "ssh_host_ed25519_key"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                check=True,
                capture_output=True,
                timeout=30,
            )
            key_files.append(path)
        keys_file = directory / "authorized_keys"
        keys_file.write_text("".join(k.strip() + "\n" for k in authorized_keys))
        keys_file.chmod(0o600)
        (directory / "sshd_config").write_text(
            SSHD_CONFIG.format(
                droplet_id=droplet_id,
                name=name,
                dir=directory,
                host_keys="\n".join(f"HostKey {p}" for p in key_files),
            )
        )

    def _start_sshd(self, directory: Path, droplet_id: int) -> subprocess.Popen:
        netns = f"{NETNS_PREFIX}{droplet_id}"
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = directory / "sshd.log"
        keep = directory / "cgroup"
        keep.mkdir(exist_ok=True)
        # The host's sessions need the namespace's own /sys (LXC looks bridges up there) and
        # the machine's cgroup hierarchies (LXC puts containers there). `ip netns exec` gives
        # the first but hides the second, so: a private mount namespace, cgroups set aside,
        # a fresh sysfs mounted, cgroups moved back in, then sshd.
        q = shlex.quote
        script = (
            f"mount --rbind /sys/fs/cgroup {q(str(keep))} && "
            "mount -t sysfs sysfs /sys && "
            f"mount --move {q(str(keep))} /sys/fs/cgroup && "
            f"exec /usr/sbin/sshd -D -f {q(str(directory / 'sshd_config'))} -E {q(str(log))}"
        )
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{netns}",
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Popen returns once nsenter runs, long before sshd accepts a session: everything the
        # host does from then on is counted (the launcher's own few mounts may not be).
        _account(droplet_id, process.pid)
        (directory / "sshd.launcher.pid").write_text(str(process.pid))
        return process

    def _wait_ready(self, address: str, directory: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((address, 22), timeout=1) as conn:
                    if conn.recv(64).startswith(b"SSH-2.0"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        log = directory / "sshd.log"
        tail = log.read_text()[-500:] if log.exists() else "no sshd log"
        raise LabHostError(f"sshd on {address} not ready after {timeout:.0f} s: {tail}")

    # -- faults ---------------------------------------------------------------------------
    def kill_sshd(self, droplet_id: int) -> None:
        """SIGKILL the host's sshd (the launcher execs into it), as a crashed daemon: the host
        stays up, its containers keep running, nothing answers on port 22."""
        process = self._sshd.pop(int(droplet_id))
        process.kill()
        process.wait(timeout=5)

    def start_sshd(self, droplet_id: int, ready_timeout: float = 15.0) -> None:
        droplet_id = int(droplet_id)
        directory = self.host_dir(droplet_id)
        self._sshd[droplet_id] = self._start_sshd(directory, droplet_id)
        address = (directory / "info").read_text().split()[1]
        self._wait_ready(address, directory, ready_timeout)

    def cpu_seconds(self, droplet_id: int) -> float | None:
        """CPU seconds the host's processes have used since it was made (its sshd, sessions,
        commands and daemons; not its LXC containers, which LXC moves to their own cgroups);
        None when this machine offers no CPU accounting."""
        return _cpu_seconds(int(droplet_id))

    # -- the cloud firewall in front of the host ------------------------------------------
    def apply_firewall(self, droplet_id: int, rules: list[cloudfw.InboundRule] | None) -> None:
        """Enforce the inbound rules of the firewalls covering the droplet (None: none does)."""
        try:
            cloudfw.apply(f"{NETNS_PREFIX}{int(droplet_id)}", rules)
        except (net.NetError, ValueError, OSError, subprocess.SubprocessError) as exc:
            raise LabHostError(f"lab host {droplet_id}: firewall not applied: {exc}") from None

    # -- destroy --------------------------------------------------------------------------
    def destroy(self, droplet_id: int) -> None:
        droplet_id = int(droplet_id)
        netns = f"{NETNS_PREFIX}{droplet_id}"
        directory = self.host_dir(droplet_id)
        container_parent = _container_parent(directory)
        self._stop_containers(directory / "one-edge" / "lxc")
        if netns in net.namespaces():
            self._kill_namespace(netns)
            net.run("ip", "netns", "del", netns, check=False)
        process = self._sshd.pop(droplet_id, None)
        if process is not None:
            # Our own child: reap it, or it lingers as a zombie.
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        with self.lock:
            for outside in (f"elp{droplet_id}", f"elq{droplet_id}"):
                net.delete_link(outside)
            self._drop_unused_vpc_bridges()
        _drop_cgroups(droplet_id, container_parent)
        shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def _stop_containers(lxcpath: Path) -> None:
        if not lxcpath.is_dir() or shutil.which("lxc-stop") is None:
            return
        for container in lxcpath.iterdir():
            if (container / "config").exists():
                subprocess.run(
                    ["lxc-stop", "-P", str(lxcpath), "-n", container.name, "-k"],
                    capture_output=True,
                    timeout=60,
                )
                subprocess.run(
                    ["lxc-destroy", "-P", str(lxcpath), "-n", container.name, "-f"],
                    capture_output=True,
                    timeout=60,
                )

    @staticmethod
    def _kill_namespace(netns: str) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = net.namespace_pids(netns)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and net.namespace_pids(netns):
                time.sleep(0.05)

    @staticmethod
    def _drop_unused_vpc_bridges() -> None:
        result = net.run("ip", "-o", "link", "show", "type", "bridge", check=False)
        for line in result.stdout.splitlines():
            name = line.split(":")[1].strip()
            if name.startswith("elv-") and not net.bridge_ports(name):
                net.delete_link(name)

    def destroy_all(self) -> None:
        ids = {
            int(ns[len(NETNS_PREFIX) :])
            for ns in net.namespaces()
            if ns.startswith(NETNS_PREFIX) and ns[len(NETNS_PREFIX) :].isdigit()
        }
        hosts_dir = self.base / "hosts"
        if hosts_dir.is_dir():
            ids |= {int(p.name) for p in hosts_dir.iterdir() if p.name.isdigit()}
        for droplet_id in sorted(ids):
            self.destroy(droplet_id)
        with self.lock:
            self._drop_unused_vpc_bridges()
            if not net.bridge_ports(BRIDGE):
                net.delete_link(BRIDGE)

    def list(self) -> list[dict]:
        hosts = []
        hosts_dir = self.base / "hosts"
        for directory in sorted(hosts_dir.iterdir()) if hosts_dir.is_dir() else []:
            info = (
                (directory / "info").read_text().split()
                if (directory / "info").exists()
                else ["?", "?", "?", "?"]
            )
            key = next(directory.glob("ssh_host_*_key.pub"), None)
            fingerprint = ""
            if key is not None:
                result = subprocess.run(
                    ["ssh-keygen", "-lf", str(key)], capture_output=True, text=True, timeout=10
                )
                fingerprint = result.stdout.split()[1] if result.returncode == 0 else ""
            netns = f"{NETNS_PREFIX}{directory.name}"
            hosts.append(
                {
                    "droplet_id": int(directory.name),
                    "name": info[0],
                    "netns": netns,
                    "public_ip": info[1],
                    "private_ip": info[2],
                    "vpc_uuid": info[3],
                    "host_key_fingerprint": fingerprint,
                    "pids": net.namespace_pids(netns),
                }
            )
        return hosts
