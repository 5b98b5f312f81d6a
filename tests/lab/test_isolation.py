"""Isolation for real: on a lab host, containers are unprivileged (a user-namespace id
map), confined to their own /proc/sys and processes, and limited: a fork bomb in one VM stays
inside its pids.max, its memory hog is killed inside its own cgroup, and meanwhile the other
VM answers on its forwarded port and the host answers SSH. A privileged container (an
operator's LXC_UNPRIVILEGED = no) is the contrast, and a container made the old way (no map,
`unconfined`, no parent cgroup) still powers off, resumes and redeploys."""

import shlex
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.exceptions import PermissionDenied

from core import sshkeys
from hostexec.ssh import HostSession
from marketplace import services as market
from marketplace import sync
from marketplace.models import Marketplace
from provisions import services as provisions
from tests.factories import make_provider
from tests.lab.helpers import in_vm, on_host, wait_for
from vms import lxc
from vms import services as vms
from vms.models import PortBlock, VMTemplate

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]

LXC = '-P "$ONE_EDGE_BASE/lxc"'
STOP_FILE = ".bomb-stop"


def cgroup_value(provision, vm, key: str) -> str:
    name = shlex.quote(vm.container_name)
    return on_host(provision, vm.host, f"lxc-cgroup {LXC} -n {name} {shlex.quote(key)}").strip()


def pids_limit_hits(provision, vm) -> int:
    fields = cgroup_value(provision, vm, "pids.events").split()
    return int(fields[fields.index("max") + 1]) if "max" in fields else 0


def http_get(url: str, seconds: float = 15.0) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=3).text
        except requests.RequestException:
            time.sleep(0.3)
    return None


def serve_http(vm, text: str) -> None:
    result = in_vm(
        vm,
        "nohup sh -c 'while true; do printf \"HTTP/1.0 200 OK\\r\\n\\r\\n"
        + text
        + "\" | nc -l -p 80; done' >/dev/null 2>&1 &",
    )
    assert result.exit_status == 0, result.stderr


def host_answers_ssh(provision, host, seconds: float = 15.0) -> float:
    """A fresh SSH session to the host runs a command: how long it took."""
    started = time.monotonic()
    with HostSession(
        host.public_ip, private_key=provision.private_key(), host_key=provision.host_key_public
    ) as session:
        session.connect(wait=seconds)
        assert session.run("echo host-ok", timeout=seconds).stdout.strip() == "host-ok"
    return time.monotonic() - started


def test_unprivileged_confined_and_limited(lab_world, owner, operator, tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
    )
    public_key = sshkeys.set_public_key(owner, key.with_suffix(".pub").read_text())

    provider = make_provider(owner, name="lab", token="lab-token")
    provision = provisions.create_provision(owner, provider=provider, name="iso", host_count=1)
    provision.refresh_from_db()
    assert provision.state == "RUNNING", provision.error
    host = provision.hosts.get()
    log = "\n".join(provision.jobs.order_by("id").first().lines.values_list("message", flat=True))
    assert "IDMAP root:600100001:65536" in log, log
    assert "CGROUP parent=one-edge-" in log, log

    sync.sync(Marketplace.objects.get(name="Edge Lab"))
    app = lab_world["image"].name
    market.export_app(owner, app, "Alpine", "iso-image")
    _, hostile = market.export_app(owner, app, "Hostile", "iso-image")
    vms.update_template(
        owner, hostile, {"memory_mb": 64, "pids_max": 64, "cpu_quota": Decimal("0.5")}
    )

    # Only an operator may ask for a privileged container.
    _, privileged = market.export_app(owner, app, "Privileged", "iso-image")
    with pytest.raises(PermissionDenied, match="only an operator"):
        vms.update_template(owner, privileged, {"lxc_unprivileged": "no"})
    vms.update_template(operator, privileged, {"lxc_unprivileged": "no"})
    assert VMTemplate.objects.get(pk=privileged.pk).lxc_unprivileged is False

    good = vms.instantiate(owner, "Alpine", name="good", nics=["iso-public"])
    bad = vms.instantiate(owner, "Hostile", name="bad", nics=["iso-public"])
    for vm in (good, bad):
        vm.refresh_from_db()
        assert vm.state == "RUNNING", vm.failure_reason or list(
            vm.log.values_list("message", flat=True)
        )
        assert vm.host_id == host.pk

    # 1. An id map: root in the VM is uid 600100001 on the host, files shifted to match.
    for vm in (good, bad):
        uid_map = in_vm(vm, "cat /proc/self/uid_map").stdout.split()
        assert uid_map == ["0", "600100001", "65536"], uid_map
        assert in_vm(vm, "cat /proc/self/gid_map").stdout.split() == ["0", "600100001", "65536"]
    rootfs = f'"$ONE_EDGE_BASE/lxc/{good.container_name}/rootfs"'
    owners = on_host(provision, host, f"stat -c '%u:%g %n' {rootfs}/etc/hostname {rootfs}/bin")
    assert owners.count("600100001:600100001") == 2, owners
    config = on_host(provision, host, f'cat "$ONE_EDGE_BASE/lxc/{good.container_name}/config"')
    assert "lxc.idmap = u 0 600100001 65536" in config and "unconfined" not in config
    # The owner's key in authorized_keys, owned by the VM's root as its sshd requires.
    keys = in_vm(good, "stat -c '%u %g %a' /root/.ssh/authorized_keys /root/.ssh").stdout
    assert keys.split() == ["0", "0", "600", "0", "0", "700"], keys
    assert public_key.split()[1] in in_vm(good, "cat /root/.ssh/authorized_keys").stdout
    # Root in the VM is nobody to the host: the host's files are not its own.
    assert in_vm(good, "ls -ln /proc/sys/vm/overcommit_memory").stdout.split()[2] == "65534"

    # 2. The host's /proc/sys is out of reach, even after remounting /proc/sys read-write.
    host_hostname = on_host(provision, host, "cat /proc/sys/kernel/hostname").strip()
    attempt = (
        "mount -o remount,rw /proc/sys 2>/dev/null; "
        "v=$(cat /proc/sys/vm/overcommit_memory); "
        'echo "$v" > /proc/sys/vm/overcommit_memory && echo WROTE-VM-SYSCTL; '
        "echo pwned > /proc/sys/kernel/hostname && echo WROTE-HOSTNAME; "
        "echo 0 > /proc/sys/net/ipv4/ip_forward; echo tried"
    )
    result = in_vm(good, attempt)
    assert "tried" in result.stdout, result.stdout + result.stderr
    assert "WROTE" not in result.stdout, result.stdout
    assert "denied" in result.stderr or "Read-only" in result.stderr, result.stderr
    # net.ipv4.ip_forward in the VM is its own network namespace's: the host still forwards.
    assert on_host(provision, host, "cat /proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert on_host(provision, host, "cat /proc/sys/kernel/hostname").strip() == host_hostname
    # ... nor does it see the host's processes: only its own, its init as PID 1.
    processes = in_vm(good, "ps -o pid,args").stdout
    assert "sshd_config" not in processes and "lxc-start" not in processes, processes
    assert len(processes.splitlines()) < 20, processes
    assert "init" in in_vm(good, "tr '\\0' ' ' < /proc/1/cmdline").stdout

    # 3. Limits in the VM's cgroup, under the host's parent cgroup.
    assert cgroup_value(provision, bad, "pids.max") == "64"
    parent_env = on_host(provision, host, 'cat "$ONE_EDGE_BASE/cgroup.env"')
    parent = dict(line.split("=", 1) for line in parent_env.split())
    init_pid = on_host(provision, host, f"lxc-info {LXC} -n {bad.container_name} -pH").strip()
    cgroups = on_host(provision, host, f"cat /proc/{int(init_pid)}/cgroup")
    assert f"{parent['CG_PARENT']}/{bad.container_name}/" in cgroups, cgroups
    total = int(on_host(provision, host, "awk '/^MemTotal:/ {print $2}' /proc/meminfo")) * 1024
    assert 0 < int(parent["CG_MEMORY_MAX"]) < total
    v2 = "0::/" in cgroups and "memory:" not in cgroups
    if v2:
        assert cgroup_value(provision, bad, "memory.max") == str(64 * 1024 * 1024)
        assert cgroup_value(provision, bad, "cpu.max") == "50000 100000"
    else:
        assert cgroup_value(provision, bad, "memory.limit_in_bytes") == str(64 * 1024 * 1024)
        assert cgroup_value(provision, bad, "memory.memsw.limit_in_bytes") == str(64 * 1024 * 1024)
        assert cgroup_value(provision, bad, "cpu.cfs_quota_us") == "50000"
        parent_dir = f"/sys/fs/cgroup/pids/{parent['CG_PARENT']}"
        assert (
            on_host(provision, host, f"cat {parent_dir}/pids.max").strip() == parent["CG_PIDS_MAX"]
        )

    # 4. A fork bomb in `bad`: bounded by its pids.max (64), ended by the test (a stop file the
    # bomb checks before each fork, and a host-side timeout on the attach), while `good`
    # answers on its forwarded port and the host answers SSH.
    serve_http(good, "hello from good")
    good_url = "http://{}:{}/".format(*vms.forwarded(good, 80).split(" ")[0].split("@"))
    assert "hello from good" in (http_get(good_url) or "")
    bomb = f"b() {{ [ -e /{STOP_FILE} ] && exit 0; b | b & }}; b"
    bad_rootfs = f'"$ONE_EDGE_BASE/lxc/{bad.container_name}/rootfs"'
    on_host(
        provision,
        host,
        f"rm -f {bad_rootfs}/{STOP_FILE}; "
        f"nohup timeout -s KILL 60 lxc-attach {LXC} -n {bad.container_name} -- "
        f"sh -c {shlex.quote(bomb)} </dev/null >/dev/null 2>&1 &",
    )
    try:
        wait_for(
            lambda: pids_limit_hits(provision, bad) > 0,
            "the fork bomb to hit pids.max",
            seconds=20,
        )
        # A fork was refused at the limit, so the bomb did reach 64 processes; how many are
        # alive a moment later varies (each of its shells forks once and exits, and the
        # refused ones take their branch with them), but never more than the limit.
        current = int(cgroup_value(provision, bad, "pids.current"))
        assert current <= 64, current
        # Under the bomb: the host answers SSH, the other VM on its forwarded port and in a
        # shell (lxc-attach), and the bomb's VM still can't get past its 64 processes.
        for _ in range(3):
            assert host_answers_ssh(provision, host) < 15
            assert "hello from good" in (http_get(good_url, seconds=10) or "")
            assert in_vm(good, "echo alive", timeout=20).stdout.strip() == "alive"
            assert int(cgroup_value(provision, bad, "pids.current")) <= 64
            time.sleep(0.5)
    finally:
        on_host(provision, host, f"touch {bad_rootfs}/{STOP_FILE}")
    wait_for(
        lambda: int(cgroup_value(provision, bad, "pids.current")) < 16,
        "the fork bomb to end once told to",
        seconds=30,
    )
    assert in_vm(bad, "echo survived").stdout.strip() == "survived"

    # 5. Memory over the limit (64 MB): the OOM killer acts inside the VM's cgroup; the VM, the
    # other VM and the host carry on.
    oom_key = "memory.events" if v2 else "memory.oom_control"

    def oom_kills() -> int:
        fields = cgroup_value(provision, bad, oom_key).split()
        return int(fields[fields.index("oom_kill") + 1])

    before = oom_kills()
    hog = in_vm(bad, "dd if=/dev/zero of=/dev/null bs=200M count=1; echo exit=$?", timeout=60)
    assert "exit=137" in hog.stdout, hog.stdout + hog.stderr  # SIGKILLed by the OOM killer
    assert oom_kills() > before
    assert "RUNNING" in on_host(provision, host, f"lxc-info {LXC} -n {bad.container_name} -s")
    assert in_vm(bad, "echo after-oom").stdout.strip() == "after-oom"
    assert "hello from good" in (http_get(good_url) or "")
    assert host_answers_ssh(provision, host) < 15

    # 6. The contrast: an operator's privileged container has no map (what the checks above
    # would catch), and is still not `unconfined`.
    priv = vms.instantiate(operator, "Privileged", name="priv", nics=["iso-public"])
    priv.refresh_from_db()
    assert priv.state == "RUNNING", priv.failure_reason
    assert in_vm(priv, "cat /proc/self/uid_map").stdout.split() == ["0", "0", "4294967295"]
    priv_config = f'"$ONE_EDGE_BASE/lxc/{priv.container_name}/config"'
    assert "unconfined" not in on_host(provision, host, f"cat {priv_config}")

    # 7. A container made before isolation (privileged, `unconfined`, no parent cgroup, no
    # pids limit): made so from the privileged one's config; it powers off, resumes and
    # redeploys as it is (never converted under its files' feet).
    on_host(
        provision,
        host,
        f"sed -i -e '/^lxc.cgroup.dir/d' -e '/pids.max/d' -e '/memsw/d' {priv_config} && "
        f"echo 'lxc.apparmor.profile = unconfined' >> {priv_config}",
    )
    vms.act(operator, priv, "poweroff")
    priv.refresh_from_db()
    assert priv.state == "POWEROFF"
    vms.act(operator, priv, "resume")
    priv.refresh_from_db()
    assert priv.state == "RUNNING", priv.failure_reason
    nics = list(priv.nics.select_related("network").order_by("index"))
    lxc.deploy(priv, nics, PortBlock.objects.get(nic__vm=priv).first_port)  # a redeploy
    assert in_vm(priv, "cat /proc/self/uid_map").stdout.split() == ["0", "0", "4294967295"]
    assert "unconfined" in on_host(provision, host, f"cat {priv_config}")

    # Unprivileged VMs power off and resume too.
    good.refresh_from_db()
    vms.act(owner, good, "poweroff")
    good.refresh_from_db()
    assert good.state == "POWEROFF"
    vms.act(owner, good, "resume")
    good.refresh_from_db()
    assert good.state == "RUNNING", good.failure_reason
    assert in_vm(good, "cat /proc/self/uid_map").stdout.split() == ["0", "600100001", "65536"]

    provisions.delete_provision(owner, provision, cleanup=True)
    provision.refresh_from_db()
    assert provision.state == "DONE", provision.error
    # The containers' cgroups and their parent went with them (lab hosts share this machine's
    # cgroup hierarchy, so it is visible from here).
    root = Path("/sys/fs/cgroup")
    leftovers = [
        str(p) for p in [root / parent["CG_PARENT"], *root.glob(f"*/{parent['CG_PARENT']}")]
    ]
    assert not [p for p in leftovers if Path(p).exists()], leftovers
