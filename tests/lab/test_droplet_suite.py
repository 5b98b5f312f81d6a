"""The droplet suite: the document's tutorial and day two on two vm droplets (lab.droplets),
Debian 12 guests that boot with systemd, cgroup v2, AppArmor and their own cloud-init, as a
DigitalOcean droplet does.

The guests boot under QEMU's software emulation, a minute or more each, so the suite boots two
once and walks everything through them in one test: provision, export, instantiate, ssh,
port-forward, VM-to-VM over EVPN across the two droplets, isolation (id map, the LXC AppArmor
profile, cgroup v2 limits, a bounded fork bomb, an OOM inside a VM), FRR as the systemd
service, a VM console, a droplet power-cycled with its VMs back, another powered off behind the
portal's back (drift) and mended by Repair, and delete to nothing. On the way it checks what
the droplets are after boot: cloud-init's DigitalOcean datasource done, systemd with nothing
failed, and the SSH host key pinned from the user data (another key refused).
"""

import os
import shlex
import sys
import time

import pytest
import requests
from django.conf import settings

from cli import onemarketapp, onetemplate, onevm
from hostexec import scripts
from hostexec.ssh import HostSession
from lab.droplets import image as vm_image
from lab.hosts import net
from marketplace import sync
from marketplace.models import Marketplace
from monitoring.cycle import run_cycle
from provisions import services as provisions
from provisions.choices import HostProblem, HostState
from tests.factories import make_provider
from tests.lab import helpers
from tests.lab.conftest import lab_backup_store, require_vm_lab
from tests.lab.helpers import in_vm
from vms import lxc
from vms import services as vms
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

LXC = '-P "$ONE_EDGE_BASE/lxc"'
STOP_FILE = "stop-the-bomb"


@pytest.fixture
def lab_hosts(tmp_path_factory):
    """Droplets made from debian-12-x64 boot as QEMU guests; the rest stay namespace hosts."""
    require_vm_lab()
    from lab.droplets.fleet import LabFleet
    from lab.droplets.vm import VmDroplets
    from lab.hosts import LabHosts

    vm_image.ensure_base_image()
    base = tmp_path_factory.mktemp("edge-vm-lab")
    hosts = LabHosts(base)
    fleet = LabFleet(hosts, VmDroplets(base, lock=hosts.lock))
    yield fleet
    fleet.destroy_all()


class Stages:
    """Wall-clock time of each stage, printed at the end (emulated guests: slow, and said so)."""

    def __init__(self):
        self.times, self.started = [], time.monotonic()

    def done(self, what: str) -> None:
        now = time.monotonic()
        self.times.append((what, now - self.started))
        # To the terminal itself: the CLI's output is read through capsys.
        print(f"[droplet suite] {what}: {now - self.started:.0f} s", file=sys.__stderr__)
        self.started = now


def cli(capsys, module, *argv) -> str:
    code = module.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, f"{module.__name__} {argv}: {err}"
    return out


def on_host(provision, host, command: str, timeout: float = 120.0, check: bool = False) -> str:
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect(wait=30)
        # A droplet's login shell has no ONE_EDGE_BASE (a lab namespace host's has its own).
        result = session.run(scripts.PRELUDE + command, check=check, timeout=timeout)
    return result.stdout + result.stderr


# Emulated droplets answer slowly: a minute unless a call says otherwise, polled each second.
def wait_for(predicate, what: str, seconds: float = 60.0, every: float = 1.0):
    return helpers.wait_for(predicate, what, seconds=seconds, every=every)


def cgroup_value(provision, vm, key: str) -> str:
    command = f"lxc-cgroup {LXC} -n {vm.container_name} {shlex.quote(key)}"
    return on_host(provision, vm.host, command).strip()


def http_get(url: str, seconds: float = 30.0) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=3).text
        except requests.RequestException:
            time.sleep(0.5)
    return None


def serve_http(vm, text: str) -> None:
    loop = f'while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\n{text}" | nc -l -p 80; done'
    in_vm(vm, f"nohup sh -c {shlex.quote(loop)} >/dev/null 2>&1 &")


def forwarded_url(vm) -> str:
    address, port = vms.forwarded(vm, 80).split(" ")[0].split("@")
    return f"http://{address}:{port}/"


def test_the_tutorial_and_day_two_on_two_vm_droplets(
    lab_world, lab_hosts, owner, capsys, monkeypatch, object_store
):
    # Guests take minutes to boot and to finish cloud-init under emulation.
    settings.PROVISION_SSH_WAIT = 600
    settings.PROVISION_BOOT_TIMEOUT = 900
    stages = Stages()

    # 1. Two droplets from debian-12-x64: booted, cloud-init done, configured over SSH.
    provider = make_provider(owner, name="lab", token="lab-token")
    provision = provisions.create_provision(
        owner, provider=provider, name="edge", host_count=2, image="debian-12-x64"
    )
    provision.refresh_from_db()
    log = "\n".join(provision.jobs.order_by("id").first().lines.values_list("message", flat=True))
    assert provision.state == "RUNNING", f"{provision.error}\n{log}"
    stages.done("provision of two vm droplets")
    hosts = list(provision.hosts.order_by("id"))
    assert "CLOUD_INIT done" in log, log
    assert "APPARMOR enabled" in log, log
    for host in hosts:
        assert on_host(provision, host, "stat -fc %T /sys/fs/cgroup").strip() == "cgroup2fs"
    check_droplet_as_booted(provision, hosts[0])

    # FRR runs as the distribution's systemd service, and the two hosts peer over EVPN.
    for host in hosts:
        assert on_host(provision, host, "systemctl is-active frr").strip() == "active"
        other = next(h for h in hosts if h != host)
        wait_for(
            lambda host=host, other=other: (
                other.private_ip
                in on_host(provision, host, "vtysh -c 'show bgp l2vpn evpn summary'")
            ),
            f"{host.name} to peer with {other.name}",
        )

    # 2. Export the Alpine app and instantiate one VM on each droplet.
    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    app = lab_world["image"].name
    out = cli(capsys, onemarketapp, "export", app, "Alpine", "-d", "edge-image")
    assert out.splitlines()[0] == "IMAGE"
    one, two = (
        VM.objects.get(
            pk=int(
                cli(
                    capsys,
                    onetemplate,
                    "instantiate",
                    "Alpine",
                    "--name",
                    name,
                    "--nic",
                    "edge-public",
                    "--nic",
                    "edge-private",
                ).split("VM ID: ")[1]
            )
        )
        for name in ("one", "two")
    )
    for vm in (one, two):
        assert vm.state == "RUNNING", vm.failure_reason or list(
            vm.log.values_list("message", flat=True)
        )
    assert one.host_id != two.host_id, "the scheduler should spread the two VMs"
    stages.done("export and two VMs")

    # 3. ssh and port-forward 9080 -> 80, answered from the lab machine.
    release = cli(capsys, onevm, "ssh", "one", "--", "cat", "/etc/os-release")
    assert "ID=alpine" in release
    # Its disk: an ext4 of the VM's size under its overlay (a loop device on the droplet).
    size_kib = int(in_vm(one, "df -k / | tail -n 1").stdout.split()[1])
    assert (one.disk_mb - 128) * 1024 < size_kib <= one.disk_mb * 1024, size_kib
    check_disk_and_snapshot(owner, one)
    check_backup_and_restore(owner, one, object_store)
    host_ip = one.host.public_ip
    assert cli(capsys, onevm, "port-forward", str(one.pk), "80").strip() == f"{host_ip}@9080 -> 80"
    for vm in (one, two):
        serve_http(vm, f"hello from {vm.name}")
        assert f"hello from {vm.name}" in (http_get(forwarded_url(vm)) or "")
    check_console(owner, one)

    # 4. VM to VM over the private network, across the two droplets (VXLAN + BGP-EVPN).
    private = provision.networks.get(name="edge-private")
    ip_one, ip_two = one.nics.get(network=private).ip, two.nics.get(network=private).ip
    for vm, target in ((one, ip_two), (two, ip_one)):
        result = wait_for(
            lambda vm=vm, target=target: (
                (r := lxc.execute(vm, ["ping", "-c", "2", "-W", "2", target], timeout=30))
                and r.exit_status == 0
                and r
            ),
            f"{vm.name} to reach {target} over EVPN",
        )
        assert result.exit_status == 0
    stages.done("ssh, port-forward and EVPN")

    # 5. Isolation on cgroup v2 and AppArmor.
    check_isolation(provision, one, two)
    stages.done("isolation")

    # 6. A changed frr.conf is taken up by the service (systemctl reload).
    check_frr_reload(provision, hosts[0])
    stages.done("FRR reload")

    # 7. One droplet power-cycled behind the portal's back: the host comes back RUNNING and its
    # VM runs again within two monitoring cycles, its forwarded port answering.
    check_power_cycle(lab_world["sim"], provision, one, two)
    stages.done("power cycle")

    # 8. The other droplet powered off behind the portal's back: drift, and Repair mends it.
    check_drift_and_repair(lab_world["sim"], owner, provision, two)
    stages.done("drift and Repair")

    # 9. Delete to nothing: no droplet left in the simulator, no guest on the lab machine.
    guests = {
        h.droplet_id: int((lab_hosts.vms.vm_dir(h.droplet_id) / "qemu.pid").read_text())
        for h in provision.hosts.all()
    }
    for vm in (one, two):
        cli(capsys, onevm, "terminate", vm.name)
    provisions.delete_provision(owner, provision)
    provision.refresh_from_db()
    assert provision.state == "DONE", provision.error
    sim = lab_world["sim"]
    left = requests.get(
        f"{sim.url}/v2/droplets", headers={"Authorization": "Bearer lab-token"}, timeout=30
    ).json()["droplets"]
    assert left == [], left
    assert not [ns for ns in net.namespaces() if ns.startswith("edgevm-")]
    for droplet_id, pid in guests.items():
        # The guest's QEMU ended, and its overlay disk and links went with it.
        assert not lab_hosts.vms.vm_dir(droplet_id).exists()
        assert not os.path.exists(f"/proc/{pid}")
        assert not net.link_exists(f"evp{droplet_id}")
    stages.done("delete")


def check_droplet_as_booted(provision, host) -> None:
    """What a DigitalOcean droplet is after boot: systemd with nothing failed, AppArmor, the
    DigitalOcean datasource's cloud-init done, and the SSH host key from the user data, so
    that a droplet presenting any other key is refused."""
    from hostexec.keys import generate_ed25519
    from hostexec.ssh import HostKeyMismatch

    status = on_host(provision, host, "cloud-init status --long")
    assert "status: done" in status and "DataSourceDigitalOcean" in status, status
    assert on_host(provision, host, "cat /proc/1/comm").strip() == "systemd"
    assert on_host(provision, host, "cat /sys/module/apparmor/parameters/enabled").strip() == "Y"
    state = on_host(provision, host, "systemctl is-system-running --wait", timeout=300)
    assert state.strip() == "running", on_host(provision, host, "systemctl --failed")
    offered = on_host(provision, host, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
    assert offered == provision.host_key_public.split()[:2]
    impostor = generate_ed25519("impostor").public_openssh
    with pytest.raises(HostKeyMismatch, match="refusing to connect"):
        with HostSession(
            host.public_ip, private_key=provision.private_key(), host_key=impostor
        ) as session:
            session.connect(wait=30)


def check_disk_and_snapshot(owner, vm) -> None:
    """On a droplet's kernel (root with every capability, cgroup v2, AppArmor): the disk grows
    online and df inside sees it; a snapshot (cgroup freezer, fsfreeze) reverted gives a changed
    file back with its checksum."""
    from vms import disks, snapshots

    before = int(in_vm(vm, "df -k / | tail -n 1").stdout.split()[1])
    disks.grow(owner, vm, vm.disk_mb + 1024)
    after = int(in_vm(vm, "df -k / | tail -n 1").stdout.split()[1])
    assert after > before + 900 * 1024, (before, after)
    in_vm(vm, "head -c 3000000 /dev/urandom > /data && sync")
    checksum = in_vm(vm, "sha256sum /data").stdout.split()[0]
    snapshot = snapshots.create(owner, vm, "suite")  # the job runs inline (JOBS_SYNC)
    snapshot.refresh_from_db()
    assert snapshot.state == "READY", list(vm.log.values_list("message", flat=True))
    in_vm(vm, "echo changed >> /data")
    snapshots.revert(owner, vm, "suite")
    vm.refresh_from_db()
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    assert in_vm(vm, "sha256sum /data").stdout.split()[0] == checksum
    print(
        f"[droplet suite] disk grown to {vm.disk_mb} MB; snapshot froze the VM "
        f"{snapshot.freeze_ms} ms",
        file=sys.__stderr__,
    )


def check_backup_and_restore(owner, vm, object_store) -> None:
    """restic, installed by the droplet's cloud-init, backs the VM up to the lab's object store
    and a restore in place gives the file back with its checksum, verified by restic."""
    from backups import services as backups

    lab_backup_store(owner, object_store)
    checksum = in_vm(vm, "sha256sum /data").stdout.split()[0]
    taken = backups.backup(owner, vm)  # the job runs inline (JOBS_SYNC)
    taken.refresh_from_db()
    assert taken.state == "READY", taken.error or list(vm.log.values_list("message", flat=True))
    in_vm(vm, "rm /data && sync")
    backups.restore(owner, vm, taken.pk)
    vm.refresh_from_db()
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    assert in_vm(vm, "sha256sum /data").stdout.split()[0] == checksum
    print(
        f"[droplet suite] backup {taken.uploaded_bytes / 2**20:.1f} MB uploaded in "
        f"{taken.duration_s:.1f} s, the VM frozen {taken.freeze_ms} ms",
        file=sys.__stderr__,
    )


def check_console(owner, vm) -> None:
    """A VM console's terminal on a droplet: a PTY on the host's warm connection, lxc-attach
    into the AppArmor-confined container, a command typed and its answer read back (the
    WebSocket around it is the same as on any host)."""
    from consoles import ssh_pty, targets

    target = targets.vm_target(owner, vm.pk, "xterm")
    output, ended = bytearray(), []

    def shows(text: bytes, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while text not in output:
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} in {seconds:.0f} s; the console showed {output[-400:]!r}")
            time.sleep(0.2)

    bridge = ssh_pty.open_pty(target.host, target.command, 80, 24, "xterm")
    try:
        bridge.start(output.extend, ended.append)
        shows(b"# ")  # typed once the shell is there: what comes before, it may throw away
        bridge.write(b"echo console-$((6 * 7))\r")
        shows(b"console-42")
        bridge.write(b"exit\n")
        wait_for(lambda: ended, "the console to end after exit", seconds=30, every=0.2)
    finally:
        bridge.close()


def droplet_action(sim, droplet_id: int, kind: str, seconds: float, every: float) -> None:
    """A droplet action asked of DigitalOcean behind the portal's back, until it completes."""
    sim_api = requests.Session()
    sim_api.headers["Authorization"] = "Bearer lab-token"
    response = sim_api.post(f"{sim.url}/v2/droplets/{droplet_id}/actions", json={"type": kind})
    assert response.status_code < 300, response.text
    action = response.json()["action"]["id"]
    wait_for(
        lambda: (
            sim_api.get(f"{sim.url}/v2/actions/{action}").json()["action"]["status"] == "completed"
        ),
        f"the {kind} to complete",
        seconds=seconds,
        every=every,
    )


def check_drift_and_repair(sim, owner, provision, vm) -> None:
    host = vm.host
    droplet_action(sim, host.droplet_id, "power_off", seconds=300, every=2)
    run_cycle()
    host.refresh_from_db()
    provision.refresh_from_db()
    assert (host.state, host.problem) == (HostState.ERROR, HostProblem.DROPLET_OFF)
    assert any(line.startswith(f"{host.name}:") for line in provision.drift), provision.drift
    provisions.repair_provision(owner, provision)  # inline (JOBS_SYNC): powers on, configures
    provision.refresh_from_db()
    host.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    assert host.state == HostState.RUNNING, host.last_error
    cycles = 0
    while cycles < 2:
        run_cycle()
        cycles += 1
        vm.refresh_from_db()
        if vm.state == "RUNNING" and vm_answers(vm):
            break
    provision.refresh_from_db()
    assert provision.drift == [], provision.drift
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    serve_http(vm, f"hello from {vm.name}")
    assert f"hello from {vm.name}" in (http_get(forwarded_url(vm)) or "")
    print(f"[droplet suite] VM back {cycles} monitoring cycle(s) after Repair", file=sys.__stderr__)


def check_isolation(provision, vm, neighbour) -> None:
    assert in_vm(vm, "cat /proc/self/uid_map").stdout.split() == ["0", "600100001", "65536"]
    init_pid = int(on_host(provision, vm.host, f"lxc-info {LXC} -n {vm.container_name} -pH"))
    label = on_host(provision, vm.host, f"cat /proc/{init_pid}/attr/current").strip()
    # LXC's generated profile, enforced; stacked on it, the container's own AppArmor namespace
    # (inside which its processes show as `unconfined`): "lxc-one-1_<path>//&:lxc-one-1_<...>:
    # unconfined (enforce)". The outer profile is what confines the container.
    outer = label.split("//")[0]
    assert outer.startswith(f"lxc-{vm.container_name}_") and label.endswith("(enforce)"), label
    cgroups = on_host(provision, vm.host, f"cat /proc/{init_pid}/cgroup").strip()
    assert cgroups.startswith("0::/") and "one-edge" in cgroups, cgroups
    memory_mb = vm.memory_mb
    assert cgroup_value(provision, vm, "memory.max") == str(memory_mb * 1024 * 1024)
    pids_max = cgroup_value(provision, vm, "pids.max")
    assert pids_max.isdigit(), pids_max

    # A fork bomb stays inside pids.max; the host and the neighbour keep answering.
    rootfs = f'"$ONE_EDGE_BASE/lxc/{vm.container_name}/rootfs"'
    bomb = f"b() {{ [ -e /{STOP_FILE} ] && exit 0; b | b & }}; b"
    on_host(
        provision,
        vm.host,
        f"rm -f {rootfs}/{STOP_FILE}; nohup timeout -s KILL 90 lxc-attach {LXC} "
        f"-n {vm.container_name} -- sh -c {shlex.quote(bomb)} </dev/null >/dev/null 2>&1 &",
    )
    try:
        wait_for(
            lambda: int(cgroup_value(provision, vm, "pids.events").split()[-1]) > 0,
            "the fork bomb to hit pids.max",
            seconds=90,
        )
        assert int(cgroup_value(provision, vm, "pids.current")) <= int(pids_max)
        assert "hello from" in (http_get(forwarded_url(neighbour)) or "")
        assert on_host(provision, vm.host, "echo alive").strip() == "alive"
    finally:
        on_host(provision, vm.host, f"touch {rootfs}/{STOP_FILE}")
    wait_for(
        lambda: int(cgroup_value(provision, vm, "pids.current")) < 16,
        "the fork bomb to end once told to",
        seconds=90,
    )

    # More memory than memory.max: the OOM killer acts inside the VM's cgroup only.
    def oom_kills() -> int:
        fields = cgroup_value(provision, vm, "memory.events").split()
        return int(fields[fields.index("oom_kill") + 1])

    before = oom_kills()
    size = memory_mb * 2
    hog = in_vm(vm, f"dd if=/dev/zero of=/dev/null bs={size}M count=1; echo exit=$?", timeout=120)
    assert "exit=137" in hog.stdout, hog.stdout + hog.stderr
    assert oom_kills() > before
    assert in_vm(vm, "echo after-oom").stdout.strip() == "after-oom"
    assert on_host(provision, vm.host, "echo alive").strip() == "alive"


def check_frr_reload(provision, host) -> None:
    from provisions.hostconfig import evpn

    assert "Generated by Edge Portal" in on_host(provision, host, "cat /etc/frr/frr.conf")
    peers = [evpn.Peer(h.name, h.private_ip) for h in provision.hosts.order_by("id")]
    me = next(p for p in peers if p.private_ip == host.private_ip)
    vnis = [n.vni for n in provision.networks.exclude(vni=None)]
    ghost = evpn.Peer("ghost", "10.250.0.250")
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect(wait=30)
        # One more peer than the deploy gave: frr.conf changes and the service takes it up.
        lines = []
        evpn.apply(session, me, [*peers, ghost], vnis, log=lines.append)
        assert "FRR service reloaded" in "\n".join(lines), lines
        assert ghost.private_ip in on_host(provision, host, "vtysh -c 'show running-config'")
        # And back to the cluster as it is.
        lines = []
        evpn.apply(session, me, peers, vnis, log=lines.append)
        assert "FRR service reloaded" in "\n".join(lines), lines
    assert ghost.private_ip not in on_host(provision, host, "vtysh -c 'show running-config'")


def check_power_cycle(sim, provision, vm, neighbour) -> None:
    host = vm.host
    run_cycle(with_drift=False)
    boot_id = on_host(provision, host, "cat /proc/sys/kernel/random/boot_id").strip()
    droplet_action(sim, host.droplet_id, "power_cycle", seconds=600, every=5)
    assert on_host(provision, host, "cat /proc/sys/kernel/random/boot_id").strip() != boot_id
    cycles = 0
    while cycles < 2:
        run_cycle(with_drift=False)
        cycles += 1
        host.refresh_from_db()
        vm.refresh_from_db()
        if host.state == HostState.RUNNING and vm.state == "RUNNING" and vm_answers(vm):
            break
    assert host.state == HostState.RUNNING, host.last_error
    assert vm.state == "RUNNING", list(vm.log.values_list("message", flat=True))
    serve_http(vm, f"hello from {vm.name}")
    assert f"hello from {vm.name}" in (http_get(forwarded_url(vm)) or "")
    print(f"[droplet suite] VM back after {cycles} monitoring cycle(s)", file=sys.__stderr__)


def vm_answers(vm) -> bool:
    return in_vm(vm, "echo up").stdout.strip() == "up"
