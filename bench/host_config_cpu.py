"""What configuring a fresh host costs the host's own CPU, phase by phase, one host at a time.

provision_scaling reports the same cost per host, but from whole provisions: up to 16 lab hosts
configure at once on this machine's cores, beside the portal's job and the simulator, and what
they pay there moves by a third from run to run. A droplet configures on its own vCPU, so this
bench gives each lab host the machine to itself: HOSTS fresh hosts, one after the other, each
connected to and configured by the portal's own code (hostexec.ssh, provisions.hostconfig,
its private networking), no simulator and no job around it. Each phase's figure is the host's
cgroup CPU (its sshd, the scripts and every command they start, FRR's daemons) across it.

Phases: the SSH connection (key exchange and authentication), the set-up script, private
networking (VXLAN and FRR, whose two daemons start here), then both scripts run again on the
configured host over the same connection (a retry, a repair, a scale-out's peers). Without the
lab (root) the table says why it was skipped.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common, labworld

TITLE = "host_config_cpu: a fresh host's configuration, host CPU by phase"
HOSTS = 8
SETTLE = 0.3  # s after a host answers SSH: its sshd's start is not the portal's cost
FIRST_ID = 9900  # lab droplet IDs and addresses of their own (the simulator's start at 1)
PHASES = (
    "SSH connection",
    "set-up",
    "private networking",
    "set-up again",
    "private net again",
    "private net, FRR restarted",
)
HEADERS = ["phase", "median ms", "mean ms", "min ms", "max ms"]
VNIS = [100]  # one private network, as a provision's default one


def measure(hosts: int) -> list[dict[str, float]]:
    from lab.hosts import LabHosts

    # The portal's key and the lab's hosts, removed after, also when a host fails.
    with tempfile.TemporaryDirectory(prefix="bench-hostcpu-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", work / "id"]
        subprocess.run(keygen, check=True)
        private, public = (work / "id").read_text(), (work / "id.pub").read_text()
        lab = LabHosts(work / "lab")
        return [measure_host(lab, index, private, public) for index in range(hosts)]


def measure_host(lab, index: int, private: str, public: str) -> dict[str, float]:
    """A fresh lab host, made, configured alone and removed: ms of its own CPU per phase."""
    from hostexec.ssh import HostSession
    from lab.hosts import cgroups
    from provisions import hostconfig
    from provisions.hostconfig import evpn

    droplet = FIRST_ID + index
    name, address, private_ip = f"cpu-{index}", f"198.18.9.{10 + index}", f"10.99.0.{10 + index}"
    lab.create(
        droplet_id=droplet,
        name=name,
        public_ip=address,
        private_ip=private_ip,
        private_prefix=24,
        vpc_uuid="5ca1ab1e-0000-4000-8000-000000000001",
        authorized_keys=[public],
    )
    try:
        host_key = (lab.host_dir(droplet) / "ssh_host_ed25519_key.pub").read_text()
        time.sleep(SETTLE)
        marks = [cgroups.cpu_seconds(droplet)]
        if marks[0] is None:
            raise RuntimeError("no CPU accounting for lab hosts on this machine")
        me = evpn.Peer(name=name, private_ip=private_ip)
        session = HostSession(address, private_key=private, host_key=host_key)
        session.connect()
        marks.append(cgroups.cpu_seconds(droplet))
        for _ in range(2):
            hostconfig.configure(session)
            marks.append(cgroups.cpu_seconds(droplet))
            evpn.apply(session, me, [me], VNIS)
            marks.append(cgroups.cpu_seconds(droplet))
        kill_frr(lab.host_dir(droplet) / "one-edge" / "frr" / "run")
        marks.append(cgroups.cpu_seconds(droplet))
        evpn.apply(session, me, [me], VNIS)
        marks.append(cgroups.cpu_seconds(droplet))
        session.close()
    finally:
        lab.destroy(droplet)
    spans = [(b - a) * 1000 for a, b in zip(marks[:-1], marks[1:], strict=True)]
    del spans[-2]  # the kill: not the host's work
    return dict(zip(PHASES, spans, strict=True))


def kill_frr(rundir: Path) -> None:
    """SIGKILL the host's zebra and bgpd (a crash, an OOM kill) and wait until they are gone:
    the next private networking run starts them again, which is what FRR's start costs. Their
    pid files go too: on this machine nothing reaps the lab's orphans, and an older commit's
    script took such a zombie for a live daemon and never restarted it."""
    names = ("zebra", "bgpd")
    pids = [int((rundir / f"{name}.pid").read_text()) for name in names]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(running(pid) for pid in pids):
        time.sleep(0.02)
    for name in names:
        (rundir / f"{name}.pid").unlink(missing_ok=True)


def running(pid: int) -> bool:
    """Not gone nor a zombie (the lab's orphans may have no reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


TOTALS = {"fresh host, total": PHASES[:3], "again, total": PHASES[3:5]}


def report(runs: list[dict[str, float]]) -> int:
    rows, medians = [], {}
    for phase in (*PHASES[:3], "fresh host, total", *PHASES[3:5], "again, total", PHASES[5]):
        values = [sum(r[p] for p in TOTALS.get(phase, (phase,))) for r in runs]
        medians[phase] = statistics.median(values)
        rows.append(
            [
                phase,
                f"{medians[phase]:.1f}",
                f"{statistics.mean(values):.1f}",
                f"{min(values):.1f}",
                f"{max(values):.1f}",
            ]
        )
    notes = [
        f"{common.machine()}; {len(runs)} fresh lab hosts (network namespaces with their own "
        "sshd on this machine), configured one at a time by the portal's code over SSH",
        "ms of CPU of the host's own processes (its cgroup: sshd, the scripts and their "
        "commands, FRR's daemons), not the portal's; a host's boot is left out "
        f"({SETTLE} s after its sshd answers)",
        "private networking: one VXLAN network, the host its own route reflector; FRR's zebra "
        "and bgpd start in the first run and keep running in the second",
        "again: the same scripts on the configured host over the same connection, as a "
        "retry, a repair or a scale-out runs them",
        "FRR restarted: private networking once more after zebra and bgpd were SIGKILLed (the "
        "run starts them again): less the run again, what FRR's start costs",
    ]
    common.table(TITLE, HEADERS, rows, notes)
    common.summary(
        f"a fresh host's configuration: {medians['fresh host, total']:.0f} ms of host CPU "
        f"(median of {len(runs)}: connection {medians[PHASES[0]]:.0f}, set-up "
        f"{medians[PHASES[1]]:.0f}, private networking {medians[PHASES[2]]:.0f}); run again: "
        f"{medians['again, total']:.0f} ms; FRR's start "
        f"{medians[PHASES[5]] - medians[PHASES[4]]:.0f} ms"
    )
    return 0


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    if not lab:
        common.table(TITLE, HEADERS, [[p, "skipped", "", "", ""] for p in PHASES], [reason])
        common.summary(f"SKIPPED: {reason}")
        return 0
    with common.django_env("host_config_cpu"):
        from hostexec.ssh import SSHError
        from lab.hosts import LabHostError
        from provisions.hostconfig import HostConfigError

        try:
            runs = measure(HOSTS)
        except (LabHostError, HostConfigError, SSHError, RuntimeError, OSError) as exc:
            common.table(TITLE, HEADERS, [[p, "failed", "", "", ""] for p in PHASES], [str(exc)])
            common.summary(f"FAILED: {exc}")
            return 1
    return report(runs)


if __name__ == "__main__":
    sys.exit(main())
