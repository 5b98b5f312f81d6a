"""Part 3 of bench/monitoring.py (database only): 25 simulated hours of samples for 16 hosts x
10 VMs at a 30 s interval, one cycle's prune, the rows left against the bound
24 h x 120 cycles/h x (hosts + VMs), and the "one VM, last hour" graph query with its plan."""

import time
from datetime import timedelta

from bench import common
from bench.monitoring_common import HOSTS, INTERVAL, VMS_PER_HOST, say

TITLE_ROWS = "monitoring: sample rows after 24 simulated hours"
SIM_HOURS = 25
RETENTION_HOURS = 24
QUERY_RUNS = 30
ROWS_HEADERS = ["measurement", "HostSample rows", "VMSample rows", "total rows", "time"]


def metric_rows(user) -> dict:
    from django.conf import settings
    from django.db import connection

    from monitoring.cycle import prune
    from monitoring.models import HostSample, VMSample

    settings.MONITOR_RETENTION_HOURS = RETENTION_HOURS
    settings.MONITOR_INTERVAL = INTERVAL
    # Only this part's rows in the tables (part 1's cycles wrote some).
    HostSample.objects.all().delete()
    VMSample.objects.all().delete()
    hosts, vms = _rows_world(user)
    cycles, newest, write_seconds = _write_samples(hosts, vms)
    before = (HostSample.objects.count(), VMSample.objects.count())
    say(f"{sum(before)} sample rows written in {write_seconds:.1f} s")

    # The cycle prunes right after writing its samples: here the cycle of `newest`, a second on.
    started = time.perf_counter()
    pruned = prune(now=newest + timedelta(seconds=1))
    prune_seconds = time.perf_counter() - started
    after = (HostSample.objects.count(), VMSample.objects.count())
    per_hour = int(3600 / INTERVAL)
    bound = (RETENTION_HOURS * per_hour * HOSTS, RETENTION_HOURS * per_hour * len(vms))

    series, query, timings, plan, index = _graph_query(vms)
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


def _rows_world(user):
    """One RUNNING provision of HOSTS hosts with VMS_PER_HOST VMs each, rows only."""
    from providers.models import Provider
    from provisions.models import Datastore, Host, Provision
    from vms.models import VM, Image, VMTemplate

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
    return hosts, vms


def _write_samples(hosts, vms):
    """SIM_HOURS of samples as the cycle writes them: (cycles, the newest sample's time,
    seconds spent writing)."""
    from django.db import transaction
    from django.utils import timezone

    from monitoring.models import HostSample, VMSample

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
    return cycles, newest, time.perf_counter() - started


def _graph_query(vms):
    """The graph's query for one VM's last hour: its result, SQL, timings, plan and the
    (vm, at) index it should use."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.models import VMSample
    from monitoring.series import vm_series

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
    return series, query, timings, plan, index


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
