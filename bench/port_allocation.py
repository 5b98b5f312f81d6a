"""Port-block allocation under concurrency (PostgreSQL): W worker processes each allocate a port
block for 200 NICs at once, as 200 concurrent instantiations would, on the same few hosts.

Figures: allocations per second, collisions (two NICs holding the same block of one host: must
be 0), blocks that are not the lowest free ones (holes), and how often the unique constraint had
to settle a race (retries). Workers are processes (like qcluster workers), each with its own
database connection, allocating inside a transaction as vms.services.instantiate does.
"""

import multiprocessing
import sys
import time

from bench import common

TITLE = "port_allocation: concurrent port-block allocation"
PER_WORKER = 200
RUNS = (1, 8)  # workers; 1 is the uncontended baseline
HOSTS = 4  # 8 x 200 = 1,600 blocks; a host has 500
HEADERS = [
    "workers x allocations",
    "allocated",
    "failed",
    "wall s",
    "allocations/s",
    "collisions",
    "holes",
    "constraint retries",
]


def make_nics(user, count: int, tag: str):
    from providers.models import Provider
    from provisions.models import Datastore, Host, Network, Provision
    from vms.models import NIC, VM, Image, VMTemplate

    provider = Provider(name=f"bench-{tag}", region="nyc3", owner=user, plain={}, inputs=[])
    provider.set_token("lab-token")
    provider.save()
    provision = Provision.objects.create(
        name=f"ports-{tag}", provider=provider, owner=user, state="RUNNING", size="s", image="i"
    )
    hosts = Host.objects.bulk_create(
        Host(provision=provision, name=f"ports-{tag}-{i}", state="RUNNING") for i in range(HOSTS)
    )
    network = Network.objects.create(provision=provision, name=f"{tag}-public", kind="public")
    datastore = Datastore.objects.create(provision=provision, name=f"{tag}-image", kind="image")
    image = Image.objects.create(
        owner=user, name=f"img-{tag}", datastore=datastore, url="http://x/a", sha256="0" * 64
    )
    template = VMTemplate.objects.create(owner=user, name=f"t-{tag}", image=image)
    vms = VM.objects.bulk_create(
        VM(
            owner=user,
            name=f"{tag}-{n}",
            template=template,
            image=image,
            host=hosts[n % HOSTS],
            cpu=1,
            memory_mb=64,
        )
        for n in range(count)
    )
    nics = NIC.objects.bulk_create(NIC(vm=vm, network=network, index=0) for vm in vms)
    return [(nic.pk, hosts[n % HOSTS].pk) for n, nic in enumerate(nics)], [h.pk for h in hosts]


def worker(jobs, start_at) -> tuple[int, int, int]:
    """Allocate a block for each (nic, host); returns (allocated, failed, retries)."""
    from django.db import connection, transaction

    from provisions.models import Host
    from vms import ports
    from vms.models import NIC

    retries = 0
    real_sleep = ports.time.sleep

    class CountingTime:
        # ports.allocate sleeps only after losing a race on the unique constraint.
        @staticmethod
        def sleep(seconds):
            nonlocal retries
            retries += 1
            real_sleep(seconds)

    ports.time = CountingTime
    nics = {n.pk: n for n in NIC.objects.filter(pk__in=[nic for nic, _ in jobs])}
    hosts = {h.pk: h for h in Host.objects.filter(pk__in={host for _, host in jobs})}
    while time.time() < start_at:  # every worker starts together
        time.sleep(0.001)
    allocated = failed = 0
    for nic_id, host_id in jobs:
        try:
            with transaction.atomic():
                ports.allocate(hosts[host_id], nics[nic_id])
            allocated += 1
        except ports.NoFreePorts:
            failed += 1
    connection.close()
    return allocated, failed, retries


def check(host_ids) -> tuple[int, int]:
    """(collisions, holes): duplicate blocks per host, and blocks above the lowest free one."""
    from django.db.models import Count, Max

    from vms.models import PortBlock

    blocks = PortBlock.objects.filter(host_id__in=host_ids)
    collisions = blocks.values("host_id", "block").annotate(n=Count("pk")).filter(n__gt=1).count()
    holes = 0
    for row in blocks.values("host_id").annotate(n=Count("pk"), top=Max("block")):
        holes += row["top"] + 1 - row["n"]
    return collisions, holes


def run_once(user, workers: int) -> dict:
    from django.db import connections

    jobs, host_ids = make_nics(user, workers * PER_WORKER, f"w{workers}")
    # Each process gets the same share of every host, so they all contend for the same rows.
    shares = [jobs[i::workers] for i in range(workers)]
    connections.close_all()  # forked children must not share the parent's connection
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        start_at = time.time() + 1.0
        pending = [pool.apply_async(worker, (share, start_at)) for share in shares]
        results = [p.get(timeout=600) for p in pending]
    elapsed = time.time() - start_at
    allocated = sum(r[0] for r in results)
    collisions, holes = check(host_ids)
    return {
        "workers": workers,
        "allocated": allocated,
        "failed": sum(r[1] for r in results),
        "retries": sum(r[2] for r in results),
        "seconds": elapsed,
        "rate": allocated / elapsed,
        "collisions": collisions,
        "holes": holes,
    }


def main() -> int:
    try:
        env = common.django_env("port_allocation", need_postgres=True)
        database = env.__enter__()
    except common.Skipped as exc:
        common.skipped(TITLE, str(exc), HEADERS, [f"{w} x {PER_WORKER}" for w in RUNS])
        return 0
    try:
        user = common.bench_user()
        runs = [run_once(user, workers) for workers in RUNS]
    finally:
        env.__exit__(*sys.exc_info())
    rows = [
        [
            f"{r['workers']} x {PER_WORKER}",
            r["allocated"],
            r["failed"],
            f"{r['seconds']:.2f}",
            f"{r['rate']:.0f}",
            r["collisions"],
            r["holes"],
            r["retries"],
        ]
        for r in runs
    ]
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}; {HOSTS} hosts shared by all workers; each "
            "allocation is its own transaction (SELECT ... FOR UPDATE on the host row, then "
            "the lowest free block)",
            "collisions: (host, block) pairs held twice; holes: blocks left free below a "
            "host's highest allocated block",
        ],
    )
    contended = runs[-1]
    ok = contended["collisions"] == 0 and contended["failed"] == 0
    common.summary(
        f"{contended['workers']} workers x {PER_WORKER}: {contended['rate']:.0f} allocations/s, "
        f"{contended['collisions']} collisions, {contended['failed']} failed "
        f"(target 0 collisions: {common.verdict(ok)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
