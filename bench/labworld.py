"""The simulator (and, as root, the edge-host lab) with the portal pointed at it, the way
tests/lab/conftest.py sets it up, plus the counters the benchmarks report."""

import os
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager

from bench import common


class SSHCounter:
    """Counts SSH connection attempts and established connections per address, by wrapping
    the one place the portal opens them (hostexec.ssh.HostSession._connect_once)."""

    def __init__(self):
        self.attempts: Counter = Counter()
        self.connected: Counter = Counter()
        self._lock = threading.Lock()

    def install(self):
        from hostexec import ssh

        real = ssh.HostSession._connect_once
        counter = self

        def counted(session):
            with counter._lock:
                counter.attempts[session.address] += 1
            real(session)
            with counter._lock:
                counter.connected[session.address] += 1

        ssh.HostSession._connect_once = counted

    def reset(self):
        self.attempts.clear()
        self.connected.clear()


@contextmanager
def simulator(*, lab: bool, vm_droplets: bool = False, **faults):
    """A simulator in this process; with lab=True every droplet is a real lab host (root), and
    with vm_droplets those made from debian-12-x64 boot as QEMU guests (lab.droplets)."""
    from django.conf import settings

    from lab.docsim import start_in_thread

    hosts = None
    if lab:
        from lab.hosts import LabHosts

        hosts = LabHosts(tempfile.mkdtemp(prefix="bench-lab-"))
        if vm_droplets:
            from lab.droplets.fleet import LabFleet

            hosts = LabFleet(hosts)
    # DigitalOcean's rate limits stay on (lab.docsim.ratelimit); a deleted droplet's VPC
    # membership lingers 1 s rather than the simulator's 20, since the deletes between
    # measured runs are not measured.
    faults.setdefault("vpc_member_linger", 1.0)
    sim = start_in_thread(port=0, lab_hosts=hosts, **faults)
    settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
    settings.JOBS_SYNC = True  # no worker process: jobs run inline, so wall time is the job's
    settings.OUTBOUND_ALLOWED_NETWORKS = ["198.18.0.1/32"]  # the lab's image server
    try:
        yield sim
    finally:
        sim.stop()  # with lab hosts: removes every one of them


def host_cpu_seconds(sim, droplet_ids, *, at_boot: bool = False) -> list[float]:
    """CPU seconds each lab host has used since it was made (lab.hosts' per-host cgroup:
    its sshd, sessions, commands and daemons), or with `at_boot` what its boot had cost it
    (its sshd's start and the lab's readiness probe, before the portal's first connection);
    empty without lab hosts or CPU accounting."""
    hosts = sim.server.lab_hosts
    if hosts is None:
        return []
    read = hosts.boot_cpu_seconds if at_boot else hosts.cpu_seconds
    seconds = [read(d) for d in droplet_ids if d is not None]
    return [s for s in seconds if s is not None]


def provider_for(user, name="bench-sim"):
    from providers.models import Provider

    provider = Provider(name=name, region="nyc3", owner=user, plain={}, inputs=[])
    provider.set_token("lab-token")
    provider.save()
    return provider


def step_windows(provision) -> dict[str, tuple[float, float]]:
    """(start, end) of each deploy step as Unix times, from the job's log lines
    ("step i/n: name")."""
    job = provision.jobs.filter(kind="deploy").order_by("-id").first()
    lines = list(job.lines.values_list("at", "message"))
    marks = [(at, msg.split(": ", 1)[1]) for at, msg in lines if msg.startswith("step ")]
    end = lines[-1][0]
    return {
        name: (at.timestamp(), next_at.timestamp())
        for (at, name), (next_at, _) in zip(marks, [*marks[1:], (end, "")], strict=True)
    }


class CPUSampler:
    """The whole machine's CPU use over time (/proc/stat every 0.2 s), to tell a step that
    waits from one that is short of CPU: lab hosts share this machine's cores, droplets don't."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (time, busy jiffies, total jiffies)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    @classmethod
    def read_busy_seconds(cls) -> float:
        """CPU seconds the whole machine has been busy since boot (USER_HZ is 100 on Linux)."""
        return cls._read()[0] / os.sysconf("SC_CLK_TCK")

    def _run(self):
        while not self._stop.is_set():
            busy, total = self._read()
            self.samples.append((time.time(), busy, total))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def busy_percent(self, start: float, end: float) -> float | None:
        """Share of all cores busy between two Unix times."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return None
        (_, b0, t0), (_, b1, t1) = inside[0], inside[-1]
        return 100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else None


def lab_or_reason() -> tuple[bool, str]:
    problem = common.lab_problem()
    return problem is None, problem or ""


LAB_GATEWAY = "198.18.0.1"  # this machine on the lab bridge (lab.hosts' default gateway)


def running_vm(app_name: str, image_port: int, provision_name: str, vm_name: str):
    """One RUNNING Alpine VM on a one-host lab provision (running_vms)."""
    return running_vms(app_name, image_port, provision_name, [vm_name])[0]


def running_vms(
    app_name: str, image_port: int, provision_name: str, vm_names: list[str], host_count: int = 1
) -> list:
    """RUNNING Alpine VMs on a lab provision of `host_count` hosts, made through the services
    as a user would (provision, marketplace sync, export, instantiate); SystemExit naming the
    step that did not get there."""
    from marketplace import sync
    from marketplace.models import Marketplace, MarketplaceApp
    from marketplace.services import export_app
    from provisions import services as provisions
    from vms import services

    user = common.bench_user()
    market = Marketplace.objects.get(name="Edge Lab")
    market.index_url = f"http://{LAB_GATEWAY}:{image_port}/index.json"
    market.save(update_fields=["index_url"])
    provision = provisions.create_provision(
        user,
        provider=provider_for(user, f"{provision_name}-sim"),
        name=provision_name,
        host_count=host_count,
    )
    provision.refresh_from_db()
    if provision.state != "RUNNING":
        raise SystemExit(f"provision ended {provision.state}: {provision.error[:300]}")
    sync.sync(market)
    app = MarketplaceApp.objects.get(marketplace=market, name=app_name)
    _, template = export_app(user, app.pk, f"{provision_name}-alpine", f"{provision_name}-image")
    made = []
    for name in vm_names:
        vm = services.instantiate(user, template.pk, name=name, nics=[f"{provision_name}-public"])
        vm.refresh_from_db()
        if vm.state != "RUNNING":
            raise SystemExit(f"VM {name} ended {vm.state}: {vm.failure_reason[:300]}")
        made.append(vm)
    return made
