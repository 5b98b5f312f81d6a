"""Part 1 of bench/monitoring.py (lab, root): a 16-host lab provision with 10 RUNNING Alpine
containers per host, then several monitoring cycles, each with its wall time, the portal's CPU
seconds, SSH connections per host and DigitalOcean calls per token."""

import resource
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bench import common, labworld
from bench.monitoring_common import HOSTS, INTERVAL, VMS_PER_HOST, Failed, say

TITLE_CYCLE = "monitoring: cycles over 16 lab hosts x 10 VMs"

PROVISION = "monbench"
HOST_SIZE = "s-2vcpu-4gb"  # 4 GiB: room for 10 VMs of the Alpine template's 256 MiB
CYCLES = 5
VM_WORKERS = 6  # concurrent instantiations (each runs its deploy job inline)
VM_DEADLINE = 210.0  # seconds for making the VMs; what is RUNNING by then is measured
LAB_GATEWAY = "198.18.0.1"  # this machine on the lab bridge (lab.hosts' default gateway)

CYCLE_HEADERS = [
    "cycle",
    "hosts answered",
    "samples",
    "wall s",
    "CPU s portal",
    "CPU s machine",
    "SSH conns/host",
    "SSH attempts/host",
    "DO calls/token",
    "simulator requests",
    "VMs RUNNING after",
]


class ParamikoConnects:
    """Every SSH connection attempt in this process, per address, counted at paramiko
    (SSHClient.connect) below the portal's own session class: nothing connects unseen."""

    def __init__(self):
        self.attempts: Counter = Counter()
        self._lock = threading.Lock()

    def install(self):
        import paramiko

        real = paramiko.SSHClient.connect
        counter = self

        def counted(client, hostname, *args, **kwargs):
            with counter._lock:
                counter.attempts[hostname] += 1
            return real(client, hostname, *args, **kwargs)

        paramiko.SSHClient.connect = counted

    def reset(self):
        self.attempts.clear()


def lab_namespaces() -> set[str]:
    """Every lab host on this machine (one network namespace each), whoever made it."""
    from lab.hosts import net
    from lab.hosts.manager import NETNS_PREFIX

    return {ns for ns in net.namespaces() if ns.startswith(NETNS_PREFIX)}


def wait_for_quiet_lab(timeout: float) -> str | None:
    """The lab is machine-wide and the simulator's shutdown removes every lab host: wait for
    another user's lab hosts (a lab test run) to go; why not, if they stay."""
    deadline = time.monotonic() + timeout
    while True:
        others = lab_namespaces()
        if not others:
            return None
        if time.monotonic() > deadline:
            return (
                f"{len(others)} lab host(s) of another run exist on this machine (lab tests?); "
                "this bench's clean-up would remove them"
            )
        time.sleep(5)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- 1. cycles over lab hosts ----------------------------------------------------------------
def lab_cycles(user, ssh, connects) -> dict:
    from django.conf import settings

    from lab.hosts.manager import NETNS_PREFIX
    from lab.images import ensure_alpine_rootfs, start_image_server
    from monitoring import drift

    image = ensure_alpine_rootfs()  # cached after the first build (`make lab-deps` tools)
    settings.PROVISION_POLL_INTERVAL = 0.1  # the simulator boots droplets in 0.2 s here
    settings.PROVISION_SSH_WAIT = 30
    settings.QUOTA_DEFAULTS = {"user": {}, "group": {}}
    settings.VM_CPU_OVERCOMMIT = 100.0  # 10 VMs of 1 CPU on a 2-CPU droplet
    drift.BUDGET.spent.clear()
    drift.BUDGET.resting_until.clear()
    server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
    try:
        with labworld.simulator(lab=True, boot_delay=0.2) as sim:
            try:
                world = make_world(user, image.name, server.server_address[1])
                cycles = []
                for number in range(1, CYCLES + 1):
                    cycles.append(one_cycle(number, sim, ssh, connects, world))
                    say(f"cycle {number}: {cycles[-1]['wall']:.2f} s")
                # Someone else's lab run on this machine (its reset removes every lab host, its
                # hosts take the same addresses) would make these figures meaningless: say so.
                ids = world["provision"].hosts.values_list("droplet_id", flat=True)
                own = {f"{NETNS_PREFIX}{d}" for d in ids}
                present = lab_namespaces()
                world["lab_lost"] = sorted(own - present)
                world["lab_foreign"] = sorted(present - own)
            finally:
                say("cleaning up the lab (delete the provision, then every lab host)")
                cleanup_started = time.perf_counter()
                cleaned = cleanup(user)
        # Leaving the block stopped the simulator: LabHosts.destroy_all removed every lab host
        # and any container still on one; its (now empty) directory goes too.
        cleanup_seconds = time.perf_counter() - cleanup_started
        shutil.rmtree(sim.server.lab_hosts.base, ignore_errors=True)
    finally:
        server.shutdown()
        server.server_close()
    return {**world, "cycles": cycles, "cleanup": cleaned, "cleanup_seconds": cleanup_seconds}


def make_world(user, app_name: str, image_port: int) -> dict:
    from marketplace import sync
    from marketplace.models import Marketplace, MarketplaceApp
    from marketplace.services import export_app
    from provisions import services as provisions

    provider = labworld.provider_for(user)
    market = Marketplace.objects.get(name="Edge Lab")
    market.index_url = f"http://{LAB_GATEWAY}:{image_port}/index.json"
    market.save(update_fields=["index_url"])

    started = time.perf_counter()
    provision = provisions.create_provision(
        user, provider=provider, name=PROVISION, host_count=HOSTS, size=HOST_SIZE
    )  # JOBS_SYNC: deployed (droplets, host configuration) when this returns
    provision.refresh_from_db()
    if provision.state != "RUNNING":
        raise Failed(f"provision ended {provision.state}: {provision.error[:300]}")
    provision_seconds = time.perf_counter() - started
    say(f"{HOSTS} lab hosts RUNNING in {provision_seconds:.1f} s")
    try:
        sync.sync(market)
    except sync.SyncError as exc:
        raise Failed(f"lab marketplace sync: {exc}") from None
    app = MarketplaceApp.objects.get(marketplace=market, name=app_name)
    _, template = export_app(user, app.pk, "alpine", f"{PROVISION}-image")

    wanted = HOSTS * VMS_PER_HOST
    started = time.perf_counter()
    deadline = started + VM_DEADLINE
    with ThreadPoolExecutor(max_workers=VM_WORKERS) as pool:
        outcomes = list(
            pool.map(lambda i: instantiate(user, template, f"mon-{i:03d}", deadline), range(wanted))
        )
    vm_seconds = time.perf_counter() - started
    errors = [o for o in outcomes if o not in ("RUNNING", "not asked")]
    not_asked = outcomes.count("not asked")
    from vms.models import VM

    running = VM.objects.filter(host__provision=provision, state="RUNNING")
    per_host = Counter(running.values_list("host_id", flat=True))
    say(f"{running.count()} VMs RUNNING in {vm_seconds:.1f} s")
    if not running.exists():
        raise Failed("no VM reached RUNNING: " + "; ".join(errors[:3]))
    return {
        "provision": provision,
        "provision_seconds": provision_seconds,
        "vms_wanted": wanted,
        "vms_running": running.count(),
        "vms_not_asked": not_asked,
        "vm_errors": errors,
        "vm_seconds": vm_seconds,
        "per_host": (min(per_host.values()), max(per_host.values())),
        "host_ips": list(provision.hosts.values_list("public_ip", flat=True)),
    }


def instantiate(user, template, name: str, deadline: float) -> str:
    """One VM until RUNNING (the deploy job runs inside instantiate with JOBS_SYNC): its final
    state, or why not; "not asked" once the deadline for making VMs has passed."""
    from django.db import connection

    from vms import services

    if time.perf_counter() > deadline:
        return "not asked"
    try:
        vm = services.instantiate(user, template.pk, name=name, nics=[f"{PROVISION}-public"])
        vm.refresh_from_db()
        return vm.state if vm.state == "RUNNING" else f"{name} {vm.state}: {vm.failure_reason}"
    except Exception as exc:  # noqa: BLE001 - one VM's failure is a figure, not the end
        return f"{name}: {exc}"
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()  # a pool thread's own connection, as provisions' in_thread does


def one_cycle(number: int, sim, ssh, connects, world) -> dict:
    from monitoring.cycle import run_cycle
    from vms.models import VM

    ssh.reset()
    connects.reset()
    requests_before = sim.cloud.calls_total
    machine_before = labworld.CPUSampler.read_busy_seconds()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    report = run_cycle()
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    machine = labworld.CPUSampler.read_busy_seconds() - machine_before
    ips = world["host_ips"]
    return {
        "number": number,
        "hosts": report.hosts,
        "answered": report.answered,
        "samples": report.samples,
        "wall": wall,
        "cpu": cpu,
        "machine": machine,
        "ssh": (min(ssh.connected[ip] for ip in ips), max(ssh.connected[ip] for ip in ips)),
        "attempts": (
            min(connects.attempts[ip] for ip in ips),
            max(connects.attempts[ip] for ip in ips),
        ),
        "other_addresses": sorted(set(connects.attempts) - set(ips)),
        "calls": [t.api_calls for t in report.tokens],
        "skipped": [t.skipped for t in report.tokens if t.skipped],
        "requests": sim.cloud.calls_total - requests_before,
        "running_after": VM.objects.filter(
            host__provision=world["provision"], state="RUNNING"
        ).count(),
    }


def cleanup(user) -> str:
    """Delete the provision (its VMs' containers destroyed over SSH, then the droplets, which
    takes their lab hosts); LabHosts.destroy_all then removes whatever is left."""
    from provisions import services as provisions
    from provisions.models import Provision

    provision = Provision.objects.filter(name=PROVISION).first()
    if provision is None or provision.state == "DONE":
        return "no provision to delete"
    try:
        provisions.delete_provision(user, provision, cleanup=True)
    except Exception as exc:  # noqa: BLE001 - destroy_all still removes the lab hosts
        return f"delete_provision failed ({exc}); the lab hosts go with the simulator"
    provision.refresh_from_db()
    return f"provision {provision.state}"


def _span(pair) -> str:
    low, high = pair
    return str(low) if low == high else f"{low}-{high}"


def report_cycles(result, database) -> str:
    cycles = result["cycles"]
    others = sorted({a for c in cycles for a in c["other_addresses"]})
    notes = _cycle_notes(result, database) + _cycle_warnings(result, others)
    common.table(TITLE_CYCLE, CYCLE_HEADERS, _cycle_rows(cycles), notes)
    return _cycle_summary(result, others)


def _cycle_rows(cycles) -> list[list]:
    rows = []
    for c in cycles:
        rows.append(
            [
                c["number"],
                f"{c['answered']}/{c['hosts']}",
                c["samples"],
                f"{c['wall']:.2f}",
                f"{c['cpu']:.2f}",
                f"{c['machine']:.2f}",
                _span(c["ssh"]),
                _span(c["attempts"]),
                ", ".join(str(n) for n in c["calls"]) or "none",
                c["requests"],
                c["running_after"],
            ]
        )
    walls = [c["wall"] for c in cycles]
    cpus = [c["cpu"] for c in cycles]
    rows.append(
        [
            "median",
            "",
            "",
            f"{common.median(walls):.2f}",
            f"{common.median(cpus):.2f}",
            f"{common.median([c['machine'] for c in cycles]):.2f}",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    return rows


def _cycle_notes(result, database) -> list[str]:
    low, high = result["per_host"]
    return [
        f"{database}; {common.machine()}",
        f"world: {HOSTS} lab hosts ({HOST_SIZE} droplets, each a network namespace with its own "
        f"sshd on this machine) provisioned in {result['provision_seconds']:.1f} s; "
        f"{result['vms_running']} of {result['vms_wanted']} VMs RUNNING ({_span((low, high))} "
        f"per host), real LXC containers from the lab's Alpine image, made by instantiate with "
        f"its deploy job, {VM_WORKERS} at a time, in {result['vm_seconds']:.1f} s",
        "a cycle: every host probed once in parallel (one SSH connection running "
        "monitoring/hostscripts/probe.sh: /proc, df, lxc-info and the cgroups of each "
        "container), states applied, HostSample/VMSample rows written, old rows pruned, then "
        "the drift check (one listing per kind per token); cycles run back to back, not 30 s "
        "apart, so the first has no previous counters and every later one computes CPU %",
        "CPU s portal: this process's user+system CPU seconds during the cycle "
        "(getrusage RUSAGE_SELF, all threads: the probes' SSH sessions, the database writes, "
        "and the in-process simulator answering the drift check's requests); CPU s machine: "
        "the whole machine's busy CPU seconds (/proc/stat), which adds the lab hosts' sshd and "
        "probe scripts, run on each droplet's own CPU on DigitalOcean",
        "SSH conns/host: connections established per host in the cycle (min-max over the "
        "hosts, counted at hostexec.ssh.HostSession); SSH attempts/host: connection "
        "attempts per host counted at paramiko.SSHClient.connect",
        "DO calls/token: DigitalOcean requests the cycle's drift check made per token (its own "
        "count); simulator requests: requests the simulator received during the cycle",
    ]


def _cycle_warnings(result, others) -> list[str]:
    """What makes a run's figures less than they should be: fewer VMs, a disturbed lab."""
    cycles = result["cycles"]
    notes = []
    if result["vms_running"] < result["vms_wanted"]:
        notes.append(
            f"FEWER VMs THAN ASKED: {result['vms_running']} of {result['vms_wanted']} reached "
            f"RUNNING ({result['vms_not_asked']} not asked: the {VM_DEADLINE:.0f} s allowed for "
            f"making them on this machine had passed; {len(result['vm_errors'])} failed); "
            "the cycles measured the VMs that ran"
        )
        for error in result["vm_errors"][:3]:
            notes.append(f"VM failure: {error[:200]}")
    if result["lab_lost"] or result["lab_foreign"]:
        notes.append(
            f"LAB DISTURBED: {len(result['lab_lost'])} of this run's lab hosts were removed "
            f"and {len(result['lab_foreign'])} other lab host(s) appeared during the run "
            "(another lab run on this machine); the figures do not measure monitoring"
        )
    if others:
        notes.append(f"SSH attempts to other addresses during cycles: {', '.join(others)}")
    for c in cycles:
        for why in c["skipped"]:
            notes.append(f"cycle {c['number']}: drift check skipped: {why}")
    notes.append(
        f"cleanup: {result['cleanup']}, then LabHosts.destroy_all "
        f"({result['cleanup_seconds']:.1f} s)"
    )
    return notes


def _cycle_summary(result, others) -> str:
    cycles = result["cycles"]
    walls = [c["wall"] for c in cycles]
    cpus = [c["cpu"] for c in cycles]
    answered = all(c["answered"] == c["hosts"] == HOSTS for c in cycles)
    disturbed = bool(result["lab_lost"] or result["lab_foreign"])
    one_ssh = all(c["ssh"] == (1, 1) and c["attempts"] == (1, 1) for c in cycles) and not others
    calls = sorted({n for c in cycles for n in c["calls"]})
    return (
        f"cycle over {HOSTS} hosts x {result['vms_running']} VMs: "
        f"{common.median(walls):.2f} s wall (within the {INTERVAL:.0f} s interval: "
        f"{common.verdict(max(walls) < INTERVAL)}), {common.median(cpus):.2f} portal CPU s "
        "median; SSH connections per host per cycle "
        f"{_span((min(c['ssh'][0] for c in cycles), max(c['ssh'][1] for c in cycles)))} "
        f"(target 1: {common.verdict(one_ssh)}); "
        f"{'all' if answered else 'NOT all'} hosts answered; "
        f"DO calls/cycle/token {', '.join(map(str, calls))}"
        + (" (LAB DISTURBED by another lab run: figures invalid)" if disturbed else "")
        + (
            ""
            if result["vms_running"] == result["vms_wanted"]
            else f" (only {result['vms_running']} of {result['vms_wanted']} VMs: MISSED)"
        )
    )
