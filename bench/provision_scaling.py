"""Provision N = 1, 4, 16 hosts against the simulator with realistic delays (every API call
100 ms, a droplet boots in 3 s) and, as root, in the edge-host lab (real network namespaces,
sshd and host configuration over SSH). Figures: wall time of the deploy job, T(N)/T(1),
DigitalOcean API calls per provision and SSH connections per host.

Targets: T(16)/T(1) <= 1.3, i.e. all hosts in one wave (Terraform's default parallelism of 10
and Ansible's 5 forks would need two and four), and API calls <= N + 15.
Without root the lab part is skipped (said in the table) and the deploy stops after the cloud
steps: nothing would answer SSH.
"""

import sys
import time

from bench import common, labworld

TITLE = "provision_scaling: provision N hosts"
SIZES = (1, 4, 16)
LATENCY_MS = 100
BOOT_DELAY = 3.0
# The job polls the droplet list while they boot; DigitalOcean droplets take ~30-60 s and the
# app polls every 5 s. With a 3 s boot that would quantise every figure to 5 s, so poll at 1 s.
POLL_INTERVAL = 1.0
TARGET_RATIO = 1.3
API_BUDGET = 15  # calls allowed on top of one per host
HOST_STEPS = ("configure_hosts", "private_network")  # the deploy steps that work over SSH


def deploy_once(user, provider, sim, ssh, n: int) -> dict:
    from provisions import services

    sim.reset()  # every N starts from an empty account (its first VPC, its default VPC)
    ssh.reset()
    calls_before = sim.cloud.calls_total
    started, portal_cpu = time.perf_counter(), time.process_time()
    machine_busy = labworld.CPUSampler.read_busy_seconds()
    with labworld.CPUSampler() as cpu:
        provision = services.create_provision(
            user, provider=provider, name=f"scale{n}", host_count=n
        )
    seconds = time.perf_counter() - started  # JOBS_SYNC: the deploy ran inside the call
    portal_cpu = time.process_time() - portal_cpu  # this process: portal + simulator threads
    machine_busy = labworld.CPUSampler.read_busy_seconds() - machine_busy
    calls = sim.cloud.calls_total - calls_before
    provision.refresh_from_db()
    windows = labworld.step_windows(provision)
    steps = {name: end - start for name, (start, end) in windows.items()}
    configure = windows.get("configure_hosts")
    hosts = list(provision.hosts.values_list("public_ip", flat=True))
    # Read before the delete below removes the hosts (and their accounting with them).
    droplets = list(provision.hosts.values_list("droplet_id", flat=True))
    host_cpu = labworld.host_cpu_seconds(sim, droplets)
    boot_cpu = labworld.host_cpu_seconds(sim, droplets, at_boot=True)
    if len(boot_cpu) != len(host_cpu):
        boot_cpu = [0.0] * len(host_cpu)  # not recorded: counted from the host's start
    configuring = [total - boot for total, boot in zip(host_cpu, boot_cpu, strict=True)]
    result = {
        "n": n,
        "seconds": seconds,
        "state": provision.state,
        "error": provision.error,
        "calls": calls,
        "steps": steps,
        "configure_cpu": cpu.busy_percent(*configure) if configure else None,
        "portal_cpu": portal_cpu,
        "machine_cpu": machine_busy,
        "ssh_per_host": max((ssh.connected[ip] for ip in hosts), default=0),
        "ssh_attempts": max((ssh.attempts[ip] for ip in hosts), default=0),
        "host_cpu": sum(configuring) / len(configuring) if configuring else None,
        "host_cpu_max": max(configuring, default=None),
        "host_boot_cpu": sum(boot_cpu) / len(boot_cpu) if boot_cpu else None,
    }
    # After the deploy's own figures (its SSH connections included) were read.
    result["host_cpu_again"] = configured_again(user, provision, sim, droplets, host_cpu)
    services.delete_provision(user, provision)  # runs inline too; removes the lab hosts
    return result


def configured_again(user, provision, sim, droplets, before) -> float | None:
    """Host configuration run again on the RUNNING cluster (`oneprovision configure`, what a
    retry, a repair or a scale-out costs the hosts already there): CPU seconds per host."""
    from provisions import services

    if provision.state != "RUNNING" or not before:
        return None
    services.configure_provision(user, provision, force=True)  # JOBS_SYNC: runs inline
    after = labworld.host_cpu_seconds(sim, droplets)
    if len(after) != len(before):
        return None
    return sum(a - b for a, b in zip(after, before, strict=True)) / len(before)


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    with common.django_env("provision_scaling") as database:
        from django.conf import settings

        from provisions.runs import DeployRun

        settings.PROVISION_POLL_INTERVAL = POLL_INTERVAL
        settings.PROVISION_SSH_WAIT = 60
        if not lab:
            # Cloud steps only: without lab hosts nothing answers SSH.
            DeployRun.steps = [s for s in DeployRun.steps if s not in HOST_STEPS]
        ssh = labworld.SSHCounter()
        ssh.install()
        user = common.bench_user()
        with labworld.simulator(lab=lab, latency_ms=LATENCY_MS, boot_delay=BOOT_DELAY) as sim:
            provider = labworld.provider_for(user)
            runs = [deploy_once(user, provider, sim, ssh, n) for n in SIZES]
    return report(runs, lab, reason, database)


def _row(r, lab, base) -> list:
    """A run's figures as one table row; without a lab its lab columns say so."""
    steps = r["steps"]
    return [
        r["n"],
        r["state"],
        f"{r['seconds']:.1f}",
        f"{r['seconds'] / base:.2f}",
        f"{r['calls']} (budget {r['n'] + API_BUDGET})",
        f"{r['ssh_per_host']} ({r['ssh_attempts']} attempts)" if lab else "n/a (no lab)",
        f"{steps.get('droplets', 0) + steps.get('ssh_key', 0) + steps.get('vpc', 0):.1f}",
        f"{steps.get('wait_active', 0):.1f}",
        f"{steps.get('firewall', 0):.1f}",
        f"{steps.get('configure_hosts', 0):.1f}" if lab else "skipped",
        f"{r['configure_cpu']:.0f} %" if lab and r["configure_cpu"] is not None else "-",
        f"{r['portal_cpu']:.1f} / {r['machine_cpu']:.1f}",
        f"{steps.get('private_network', 0):.1f}" if lab else "skipped",
        f"{r['host_cpu']:.2f}" if r["host_cpu"] is not None else "-",
        f"{r['host_cpu_again']:.2f}" if r["host_cpu_again"] is not None else "-",
    ]


def _notes(runs, lab, reason, database) -> list[str]:
    """What the columns mean, and where this machine differs from droplets."""
    notes = [
        f"{database}; {common.machine()}; simulator: {LATENCY_MS} ms per API call, droplets "
        f"boot in {BOOT_DELAY:.0f} s; the job polls every {POLL_INTERVAL:.0f} s",
        "wall s: the whole deploy job (create_provision with jobs inline) until RUNNING; step "
        "columns from the job's log timestamps",
    ]
    if not lab:
        notes.append(f"LAB PART SKIPPED: {reason}; the deploy stops after the cloud steps")
    else:
        notes.append(
            "lab: every droplet is a network namespace with its own sshd on this machine; "
            "configure = the host set-up script, private net = FRR/VXLAN, each over SSH to "
            "all hosts in parallel; SSH conns/host counts both",
        )
        notes.append(
            "CPU busy during configure: the whole machine's cores (/proc/stat) while the hosts "
            "configure; near 100 % means the lab hosts, which share this machine's cores unlike "
            "droplets, are short of CPU, so the step cannot stay flat as N grows here"
        )
        notes.append(
            "CPU s portal / machine: CPU seconds of this process (the portal's job and the "
            "simulator) against the whole machine's during the deploy; the difference is the "
            "lab hosts' own work (sshd, set-up scripts, FRR, iptables) and PostgreSQL, which on "
            "DigitalOcean runs on each droplet's own CPU"
        )
        measured = [r for r in runs if r["host_cpu"] is not None]
        notes.append(
            "host CPU s/host: CPU seconds of each lab host's own processes (a cgroup per host: "
            "its sshd, SSH sessions, the set-up and private-network scripts with every command "
            "they run, FRR's daemons; not the portal, nor LXC containers) from the moment the "
            "host first answered SSH until the deploy returned, averaged over the provision's "
            "hosts: what a droplet's own CPU pays to be configured"
            + (
                "; max per host: "
                + ", ".join(f"{r['host_cpu_max']:.2f} (N={r['n']})" for r in measured)
                + "; left out, the lab host's boot before it (its sshd's start and the lab's "
                "readiness probe, a droplet's boot here): "
                + ", ".join(f"{r['host_boot_cpu']:.3f} (N={r['n']})" for r in measured)
                if measured
                else "; no CPU accounting (cgroups) on this machine"
            )
        )
        notes.append(
            "again s/host: the same hosts' CPU seconds for host configuration run once more on "
            "the RUNNING cluster (`oneprovision configure`: set-up and private networking over "
            "SSH, as a retry, a repair or a scale-out runs them on the hosts already there)"
        )
    for r in runs:
        if r["state"] != "RUNNING":
            notes.append(f"N={r['n']} ended {r['state']}: {r['error'][:300]}")
    return notes


def report(runs, lab, reason, database) -> int:
    base = runs[0]["seconds"]
    rows = [_row(r, lab, base) for r in runs]
    notes = _notes(runs, lab, reason, database)
    failed = [r for r in runs if r["state"] != "RUNNING"]
    common.table(
        TITLE,
        [
            "N",
            "state",
            "wall s",
            "T(N)/T(1)",
            "API calls",
            "SSH conns/host",
            "key+VPC+droplets s",
            "wait active s",
            "firewall s",
            "configure s",
            "CPU busy during configure",
            "CPU s portal / machine",
            "private net s",
            "host CPU s/host",
            "again s/host",
        ],
        rows,
        notes,
    )
    ratio = runs[-1]["seconds"] / base
    over = [r for r in runs if r["calls"] > r["n"] + API_BUDGET]
    common.summary(
        f"T(16)/T(1) = {ratio:.3f} (target <= {TARGET_RATIO}: "
        f"{common.verdict(ratio <= TARGET_RATIO)}); "
        f"API calls {', '.join(str(r['calls']) for r in runs)} for N = "
        f"{', '.join(str(r['n']) for r in runs)} (target <= N + {API_BUDGET}: "
        f"{common.verdict(not over)})"
        + ("" if lab else f"; lab part skipped ({reason})")
        + (f"; {len(failed)} run(s) did not reach RUNNING" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
