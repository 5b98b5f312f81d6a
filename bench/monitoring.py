"""Monitoring at the scale of the issue: one cycle over 16 lab hosts x 10 VMs, the drift
check's DigitalOcean calls against the number of provisions, and the sample tables after a day.

1. Lab (root): a 16-host lab provision with 10 RUNNING Alpine containers per host (made the
   way bench/vm_deploy.py makes VMs: instantiate from the lab marketplace's template, the
   deploy job inline), then several cycles (`monitoring.cycle.run_cycle`), each with its wall
   time, this process's CPU seconds (getrusage, all threads), SSH connections per host and
   DigitalOcean calls per token.
2. Simulator only: the drift check with 1, 4 and 16 provisions on one token; its calls per
   cycle must not grow with them (one listing per kind per token).
3. Database only: 25 simulated hours of samples for 16 hosts x 10 VMs at a 30 s interval,
   one cycle's prune, the rows left against the bound 24 h x 120 cycles/h x (hosts + VMs),
   and the "one VM, last hour" graph query with its plan.

Figures only: nothing here asserts a duration. The summary says whether each count-based
target was met. Without the lab, part 1 says why it was skipped and parts 2 and 3 still run.
"""

import resource
import shutil
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bench import common, labworld

TITLE_CYCLE = "monitoring: cycles over 16 lab hosts x 10 VMs"
TITLE_DRIFT = "monitoring: DigitalOcean calls per cycle per token"
TITLE_ROWS = "monitoring: sample rows after 24 simulated hours"

PROVISION = "monbench"
HOSTS = 16
VMS_PER_HOST = 10
HOST_SIZE = "s-2vcpu-4gb"  # 4 GiB: room for 10 VMs of the Alpine template's 256 MiB
CYCLES = 5
VM_WORKERS = 6  # concurrent instantiations (each runs its deploy job inline)
VM_DEADLINE = 210.0  # seconds for making the VMs; what is RUNNING by then is measured
LAB_GATEWAY = "198.18.0.1"  # this machine on the lab bridge (lab.hosts' default gateway)

DRIFT_SIZES = (1, 4, 16)
DRIFT_HOSTS = 2  # droplets per provision in part 2
DRIFT_CYCLES = 3
DRIFT_LATENCY_MS = 100  # per DigitalOcean request while the drift check is measured
HOST_STEPS = ("configure_hosts", "private_network")  # nothing answers SSH without the lab

SIM_HOURS = 25
RETENTION_HOURS = 24
INTERVAL = 30.0
QUERY_RUNS = 30

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
DRIFT_HEADERS = [
    "provisions",
    "droplets with the portal tag",
    "VPCs",
    "firewalls",
    "DO calls/cycle/token",
    "simulator requests/cycle",
    "findings",
    "drift ms/cycle (median)",
]
ROWS_HEADERS = ["measurement", "HostSample rows", "VMSample rows", "total rows", "time"]


class Failed(Exception):
    """The lab world could not be set up; the message says where."""


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


def _say(message: str) -> None:
    # Progress on stderr: the stdout is the results file's table.
    print(f"[monitoring bench] {message}", file=sys.stderr, flush=True)


# -- 1. cycles over lab hosts ----------------------------------------------------------------
def lab_cycles(user, ssh, connects) -> dict:
    from django.conf import settings

    from lab.hosts.manager import NETNS_PREFIX
    from lab.images import ensure_alpine_rootfs, start_image_server
    from monitoring import drift

    image = ensure_alpine_rootfs()  # cached after the first build (`make lab-deps` tools)
    settings.PROVISION_POLL_INTERVAL = 0.1  # the simulator boots droplets in 0.2 s here
    settings.PROVISION_SSH_WAIT = 30
    settings.VM_QUOTA_DEFAULT = {"vms": 1000, "cpu": 1000.0, "memory_mb": 1 << 30}
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
                    _say(f"cycle {number}: {cycles[-1]['wall']:.2f} s")
                # Someone else's lab run on this machine (its reset removes every lab host, its
                # hosts take the same addresses) would make these figures meaningless: say so.
                ids = world["provision"].hosts.values_list("droplet_id", flat=True)
                own = {f"{NETNS_PREFIX}{d}" for d in ids}
                present = lab_namespaces()
                world["lab_lost"] = sorted(own - present)
                world["lab_foreign"] = sorted(present - own)
            finally:
                _say("cleaning up the lab (delete the provision, then every lab host)")
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
    _say(f"{HOSTS} lab hosts RUNNING in {provision_seconds:.1f} s")
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
    _say(f"{running.count()} VMs RUNNING in {vm_seconds:.1f} s")
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
    low, high = result["per_host"]
    notes = [
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
    others = sorted({a for c in cycles for a in c["other_addresses"]})
    if others:
        notes.append(f"SSH attempts to other addresses during cycles: {', '.join(others)}")
    for c in cycles:
        for why in c["skipped"]:
            notes.append(f"cycle {c['number']}: drift check skipped: {why}")
    notes.append(
        f"cleanup: {result['cleanup']}, then LabHosts.destroy_all "
        f"({result['cleanup_seconds']:.1f} s)"
    )
    common.table(TITLE_CYCLE, CYCLE_HEADERS, rows, notes)
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


# -- 2. drift calls against the number of provisions -------------------------------------------
def drift_calls(user) -> list[dict]:
    from django.conf import settings

    from monitoring import drift
    from monitoring.cycle import run_cycle
    from provisions import services as provisions
    from provisions.models import Host, Provision
    from provisions.runs import DeployRun

    settings.PROVISION_POLL_INTERVAL = 0.1
    drift.BUDGET.spent.clear()
    drift.BUDGET.resting_until.clear()
    tag = settings.DIGITALOCEAN_PORTAL_TAG
    steps = DeployRun.steps
    # Cloud steps only: without lab hosts nothing answers SSH. The hosts are then marked
    # RUNNING (what configuration would have done), so the check compares every droplet.
    DeployRun.steps = [s for s in steps if s not in HOST_STEPS]
    runs = []
    try:
        with labworld.simulator(lab=False, boot_delay=0.2) as sim:
            provider = labworld.provider_for(user, name="bench-drift")
            made = 0
            for size in DRIFT_SIZES:
                sim.set_faults(latency_ms=0)
                while made < size:
                    provision = provisions.create_provision(
                        user, provider=provider, name=f"drift{made:02d}", host_count=DRIFT_HOSTS
                    )
                    provision.refresh_from_db()
                    if provision.state != "RUNNING":
                        raise Failed(f"{provision.name} ended {provision.state}: {provision.error}")
                    Host.objects.filter(provision=provision).update(state="RUNNING")
                    made += 1
                sim.set_faults(latency_ms=DRIFT_LATENCY_MS)
                snapshot = sim.state_snapshot()
                calls, requests, findings, seconds = [], [], 0, []
                for _ in range(DRIFT_CYCLES):
                    before = sim.cloud.calls_total
                    started = time.perf_counter()
                    report = run_cycle()
                    seconds.append(time.perf_counter() - started)
                    requests.append(sim.cloud.calls_total - before)
                    [token] = report.tokens  # one provider, one token
                    if token.skipped:
                        raise Failed(f"drift check skipped: {token.skipped}")
                    calls.append(token.api_calls)
                    findings += len(token.findings)
                runs.append(
                    {
                        "provisions": Provision.objects.filter(
                            provider=provider, state="RUNNING"
                        ).count(),
                        "checked": token.provisions,
                        "droplets": sum(tag in d.get("tags", []) for d in snapshot["droplets"]),
                        "droplets_total": len(snapshot["droplets"]),
                        "vpcs": len(snapshot["vpcs"]),
                        "firewalls": len(snapshot["firewalls"]),
                        "calls": calls,
                        "requests": requests,
                        "findings": findings,
                        "ms": 1000 * common.median(seconds),
                    }
                )
                _say(f"drift with {size} provisions: {calls} calls")
    finally:
        DeployRun.steps = steps
    return runs


def report_drift(runs, database) -> str:
    from monitoring import drift

    rows = [
        [
            r["checked"],
            f"{r['droplets']} of {r['droplets_total']}",
            r["vpcs"],
            r["firewalls"],
            ", ".join(map(str, r["calls"])),
            ", ".join(map(str, r["requests"])),
            r["findings"],
            f"{r['ms']:.0f}",
        ]
        for r in runs
    ]
    notes = [
        f"{database}; {common.machine()}; simulator only (no lab), one provider token",
        f"provisions deployed against the simulator (cloud steps: SSH key, VPC, {DRIFT_HOSTS} "
        "droplets tagged with the provision's tag and the portal's common tag, firewall; every "
        "object in the ledger), hosts then marked RUNNING as host configuration would: "
        "the check compares every droplet of every provision",
        f"{DRIFT_CYCLES} cycles per size (run_cycle: no host is probed, the drift check is the "
        f"whole cycle), each DigitalOcean request taking {DRIFT_LATENCY_MS} ms; calls/cycle is "
        "the check's own count, simulator requests what the simulator received",
        "the simulator's VPC count includes the region's default VPC",
        f"target: {drift.CALLS_PER_CHECK} calls per cycle per token at every size "
        "(droplets by the common tag, VPCs, firewalls: one page each up to 200 of a kind); "
        "drift ms grows a little with provisions: the ledger comparison is per provision, "
        "in the database",
    ]
    common.table(TITLE_DRIFT, DRIFT_HEADERS, rows, notes)
    constant = all(
        set(r["calls"]) == set(r["requests"]) == {drift.CALLS_PER_CHECK} for r in runs
    ) and all(r["findings"] == 0 for r in runs)
    return (
        "DO calls/cycle/token "
        + ", ".join(f"{max(r['calls'])}" for r in runs)
        + " for "
        + ", ".join(str(r["checked"]) for r in runs)
        + f" provisions (target constant {drift.CALLS_PER_CHECK}: "
        f"{common.verdict(constant)})"
    )


# -- 3. sample rows after a day ----------------------------------------------------------------
def metric_rows(user) -> dict:
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from monitoring.cycle import prune
    from monitoring.models import HostSample, VMSample
    from monitoring.series import vm_series
    from providers.models import Provider
    from provisions.models import Datastore, Host, Provision
    from vms.models import VM, Image, VMTemplate

    settings.MONITOR_RETENTION_HOURS = RETENTION_HOURS
    settings.MONITOR_INTERVAL = INTERVAL
    # Only this part's rows in the tables (part 1's cycles wrote some).
    HostSample.objects.all().delete()
    VMSample.objects.all().delete()
    provider = Provider(name="bench-rows", region="nyc3", owner=user, plain={}, inputs=[])
    provider.set_token("lab-token")
    provider.save()
    provision = Provision.objects.create(
        name="rows", provider=provider, owner=user, state="RUNNING", size="s", image="i"
    )
    hosts = Host.objects.bulk_create(
        Host(provision=provision, name=f"rows-host-{i}", state="RUNNING", cpu=2, memory_mb=4096)
        for i in range(HOSTS)
    )
    datastore = Datastore.objects.create(provision=provision, name="rows-image", kind="image")
    image = Image.objects.create(
        owner=user, name="rows-alpine", datastore=datastore, url="http://x/a.tar", sha256="0" * 64
    )
    template = VMTemplate.objects.create(owner=user, name="rows-alpine", image=image)
    vms = VM.objects.bulk_create(
        VM(
            owner=user,
            name=f"rows-{n:03d}",
            template=template,
            image=image,
            host=hosts[n % HOSTS],
            state="RUNNING",
            cpu=1,
            memory_mb=256,
        )
        for n in range(HOSTS * VMS_PER_HOST)
    )

    # What the cycle writes: one row per host and per VM each cycle, 30 s apart, the newest
    # one cycle ago; cumulative counters grow as a lightly used VM's would.
    cycles = int(SIM_HOURS * 3600 / INTERVAL)
    newest = timezone.now()
    started = time.perf_counter()
    for first in range(0, cycles, 100):
        host_rows, vm_rows = [], []
        for k in range(first, min(cycles, first + 100)):
            at = newest - timedelta(seconds=INTERVAL * (cycles - 1 - k))
            for i, host in enumerate(hosts):
                host_rows.append(
                    HostSample(
                        host=host,
                        at=at,
                        cpu_total_ticks=6000 * k + i,
                        cpu_idle_ticks=5400 * k,
                        cpu_percent=10.0,
                        load1=0.3,
                        memory_total_mb=4096,
                        memory_used_mb=900,
                        disk_total_mb=80_000,
                        disk_used_mb=2_000,
                        vms_running=VMS_PER_HOST,
                    )
                )
            for vm in vms:
                vm_rows.append(
                    VMSample(
                        vm=vm,
                        at=at,
                        cpu_seconds=0.3 * k,
                        cpu_percent=1.0,
                        memory_mb=12.5,
                        net_rx_bytes=1500 * k,
                        net_tx_bytes=900 * k,
                    )
                )
        with transaction.atomic():
            HostSample.objects.bulk_create(host_rows, batch_size=1000)
            VMSample.objects.bulk_create(vm_rows, batch_size=1000)
    write_seconds = time.perf_counter() - started
    before = (HostSample.objects.count(), VMSample.objects.count())
    _say(f"{sum(before)} sample rows written in {write_seconds:.1f} s")

    # The cycle prunes right after writing its samples: here the cycle of `newest`, a second on.
    started = time.perf_counter()
    pruned = prune(now=newest + timedelta(seconds=1))
    prune_seconds = time.perf_counter() - started
    after = (HostSample.objects.count(), VMSample.objects.count())
    per_hour = int(3600 / INTERVAL)
    bound = (RETENTION_HOURS * per_hour * HOSTS, RETENTION_HOURS * per_hour * len(vms))

    # Statistics as autovacuum/ANALYZE would keep them after a day of inserts.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    vm = vms[len(vms) // 2]
    with CaptureQueriesContext(connection) as queries:
        series = vm_series(vm, hours=1)
    [query] = [q["sql"] for q in queries.captured_queries]
    timings = []
    for _ in range(QUERY_RUNS):
        started = time.perf_counter()
        vm_series(vm, hours=1)
        timings.append(time.perf_counter() - started)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + query)
            plan = [str(row[-1]) for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN " + query)
            plan = [str(row[0]) for row in cursor.fetchall()]
    index = next(
        i.name for i in VMSample._meta.indexes if list(i.fields) == ["vm", "at"]
    )  # the (vm, at) index the graph query must use
    return {
        "cycles": cycles,
        "before": before,
        "after": after,
        "bound": bound,
        "pruned": pruned,
        "write_seconds": write_seconds,
        "prune_seconds": prune_seconds,
        "points": len(series["at"]),
        "ms": [1000 * t for t in timings],
        "plan": plan,
        "index": index,
        "index_used": any(index in line for line in plan),
        "query": query,
        "vendor": connection.vendor,
    }


def report_rows(r, database) -> str:
    objects = f"({HOSTS} + {HOSTS * VMS_PER_HOST})"
    rows = [
        [
            f"written: {SIM_HOURS} h x {int(3600 / INTERVAL)} cycles/h x {objects}",
            f"{r['before'][0]:,}",
            f"{r['before'][1]:,}",
            f"{sum(r['before']):,}",
            f"{r['write_seconds']:.1f} s (bulk_create)",
        ],
        [
            "after one cycle's prune",
            f"{r['after'][0]:,}",
            f"{r['after'][1]:,}",
            f"{sum(r['after']):,}",
            f"{r['prune_seconds']:.2f} s (prune, {r['pruned']:,} rows deleted)",
        ],
        [
            f"bound: {RETENTION_HOURS} h x {int(3600 / INTERVAL)} cycles/h x {objects}",
            f"{r['bound'][0]:,}",
            f"{r['bound'][1]:,}",
            f"{sum(r['bound']):,}",
            "",
        ],
        [
            "one VM, last hour: monitoring.series.vm_series(vm, hours=1)",
            "",
            f"{r['points']} points",
            "",
            f"{common.median(r['ms']):.1f} ms median, {common.p95(r['ms']):.1f} ms p95 "
            f"({QUERY_RUNS} runs)",
        ],
    ]
    explain = "EXPLAIN QUERY PLAN" if r["vendor"] == "sqlite" else "EXPLAIN"
    notes = [
        f"{database}; {common.machine()}",
        f"samples bulk-created as the cycle writes them (one HostSample per host and one "
        f"VMSample per VM every {INTERVAL:.0f} s, {r['cycles']} cycles over {SIM_HOURS} h, the "
        "newest one cycle old), then monitoring.cycle.prune as the cycle calls it right after "
        f"writing (MONITOR_RETENTION_HOURS = {RETENTION_HOURS}), then ANALYZE",
        "one VM, last hour: the graph's query for one VM (the samples of the hour before the "
        "query, ~120 at 30 s), the median of repeated calls, rows turned into uPlot's lists "
        f"included; the query: `{r['query']}`",
        f"{explain}: " + " / ".join(f"`{line}`" for line in r["plan"]),
        f"(vm, at) index {r['index']}: {'used' if r['index_used'] else 'NOT USED'}",
    ]
    common.table(TITLE_ROWS, ROWS_HEADERS, rows, notes)
    bounded = sum(r["after"]) <= sum(r["bound"])
    return (
        f"rows after a day {sum(r['after']):,} <= bound {sum(r['bound']):,} "
        f"({common.verdict(bounded)}); one VM's last hour in "
        f"{common.median(r['ms']):.1f} ms with the (vm, at) index "
        f"({common.verdict(r['index_used'])})"
    )


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    lab, reason = labworld.lab_or_reason()
    verdicts, failed = [], False
    with common.django_env("monitoring") as database:
        ssh = labworld.SSHCounter()
        ssh.install()
        connects = ParamikoConnects()
        connects.install()
        user = common.bench_user()

        if lab:
            busy = wait_for_quiet_lab(timeout=180)
            if busy:
                lab, reason = False, busy
        if not lab:
            labels = [str(n) for n in range(1, CYCLES + 1)]
            rows = [[label] + ["skipped"] * (len(CYCLE_HEADERS) - 1) for label in labels]
            common.table(TITLE_CYCLE, CYCLE_HEADERS, rows, [f"skipped: {reason}"])
            verdicts.append(f"lab cycles skipped ({reason})")
        else:
            try:
                cycles = lab_cycles(user, ssh, connects)
            except Failed as exc:
                rows = [["failed"] + [""] * (len(CYCLE_HEADERS) - 1)]
                common.table(TITLE_CYCLE, CYCLE_HEADERS, rows, [str(exc)])
                verdicts.append(f"lab cycles FAILED: {exc}")
                failed = True
            else:
                outcome = report_cycles(cycles, database)
                verdicts.append(outcome)

        try:
            outcome = report_drift(drift_calls(user), database)
            verdicts.append(outcome)
        except Failed as exc:
            common.table(TITLE_DRIFT, DRIFT_HEADERS, [["failed"] + [""] * 7], [str(exc)])
            verdicts.append(f"drift FAILED: {exc}")
            failed = True

        outcome = report_rows(metric_rows(user), database)
        verdicts.append(outcome)
    common.summary("; ".join(verdicts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
