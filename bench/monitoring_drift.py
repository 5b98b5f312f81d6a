"""Part 2 of bench/monitoring.py (simulator only): the drift check with 1, 4 and 16
provisions on one token; its calls per cycle must not grow with them (one listing per kind per
token)."""

import time

from bench import common, labworld
from bench.monitoring_common import Failed, say

TITLE_DRIFT = "monitoring: DigitalOcean calls per cycle per token"
DRIFT_SIZES = (1, 4, 16)
DRIFT_HOSTS = 2  # droplets per provision
DRIFT_CYCLES = 3
DRIFT_LATENCY_MS = 100  # per DigitalOcean request while the drift check is measured
HOST_STEPS = ("configure_hosts", "private_network")  # nothing answers SSH without the lab
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
                say(f"drift with {size} provisions: {calls} calls")
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
