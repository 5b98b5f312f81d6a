"""Portal latency at 100 and at 10,000 VMs (PostgreSQL): the VM list page, /api/vms/ and the
dashboard, median and p95 over repeated requests, and SQL queries per request.

Requests go through Django's test client in this process (the whole middleware, view and
template stack, no HTTP server), logged in as a self-service user who owns all the VMs, so the
tenancy filter is the real one. The ratio latency(10,000) / latency(100) should stay under 1.5:
pages are paginated and indexed, so they must not grow with the table.

The two sizes are measured in alternating rounds (100, 10,000, 100, 10,000, ...: VMs are bulk
loaded, then deleted back down), so background load on the machine hits both alike instead of
skewing the ratio.
"""

import sys
import time

from bench import common

TITLE = "portal_scale: latency at 100 and 10,000 VMs"
SIZES = (100, 10_000)
ROUNDS, WARMUP, REQUESTS = 3, 3, 20  # 60 timed requests per page and size
HOSTS = 25  # 10,000 public NICs need 20+ hosts: a host has 500 port blocks
TARGET_RATIO = 1.5
PAGES = [("VM list page", "/vms/"), ("/api/vms/", "/api/vms/"), ("dashboard", "/")]
HEADERS = [
    "page",
    "median ms @100",
    "p95 ms @100",
    "median ms @10,000",
    "p95 ms @10,000",
    "ratio (median)",
    "SQL queries @100 / @10,000",
]


def build_world(user):
    """A RUNNING provision with HOSTS hosts, a public network, an image and a template."""
    from providers.models import Provider
    from provisions.models import Datastore, Host, Network, Provision
    from vms.models import Image, VMTemplate

    provider = Provider(name="bench", region="nyc3", owner=user, plain={}, inputs=[])
    provider.set_token("lab-token")
    provider.save()
    provision = Provision.objects.create(
        name="scale", provider=provider, owner=user, state="RUNNING", size="s", image="i"
    )
    hosts = Host.objects.bulk_create(
        Host(
            provision=provision,
            name=f"scale-host-{i}",
            state="RUNNING",
            public_ip=f"198.18.1.{i + 1}",
            cpu=64,
            memory_mb=1 << 20,
        )
        for i in range(HOSTS)
    )
    network = Network.objects.create(provision=provision, name="scale-public", kind="public")
    datastore = Datastore.objects.create(provision=provision, name="scale-image", kind="image")
    image = Image.objects.create(
        owner=user, name="alpine", datastore=datastore, url="http://x/a.tar", sha256="0" * 64
    )
    template = VMTemplate.objects.create(owner=user, name="alpine", image=image)
    return hosts, network, template


def add_vms(user, world, start: int, stop: int) -> None:
    """VMs start..stop-1 with a NIC and a port block each, in bulk (10,000 one by one is slow)."""
    from django.db import transaction

    from vms.models import NIC, VM, PortBlock

    hosts, network, template = world
    states = ["RUNNING"] * 17 + ["POWEROFF", "DONE", "DONE"]  # 10 % terminated, hidden
    for first in range(start, stop, 2000):
        numbers = range(first, min(stop, first + 2000))
        with transaction.atomic():
            vms = VM.objects.bulk_create(
                VM(
                    owner=user,
                    name=f"vm-{n:05d}",
                    template=template,
                    image=template.image,
                    host=hosts[n % HOSTS],
                    state=states[n % len(states)],
                    cpu=1,
                    memory_mb=256,
                )
                for n in numbers
            )
            nics = NIC.objects.bulk_create(
                NIC(vm=vm, network=network, index=0, ip=f"192.168.150.{2 + n // HOSTS % 250}")
                for n, vm in zip(numbers, vms, strict=True)
            )
            PortBlock.objects.bulk_create(
                PortBlock(host=hosts[n % HOSTS], block=n // HOSTS, nic=nic)
                for n, nic in zip(numbers, nics, strict=True)
            )


def resize(user, world, current: int, target: int) -> None:
    """Grow or shrink to `target` VMs, then VACUUM ANALYZE as autovacuum soon would on a real
    server: fresh statistics, and the emptied tail pages of a shrink returned."""
    from django.db import connection

    from vms.models import VM

    if target > current:
        add_vms(user, world, current, target)
    elif target < current:
        VM.objects.filter(name__gte=f"vm-{target:05d}").delete()  # NICs, port blocks cascade
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def measure(client, path, headers) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        assert client.get(path, **headers).status_code == 200, path
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(path, **headers)
    return timings, len(queries)


def main() -> int:
    return common.on_postgres("portal_scale", TITLE, HEADERS, [label for label, _ in PAGES], run)


def run(database: str) -> int:
    from django.test import Client

    from core.models import ApiToken

    user = common.bench_user()
    world = build_world(user)
    client = Client()
    client.force_login(user)
    _, raw = ApiToken.issue(user, "bench")
    timings = {(label, size): [] for label, _ in PAGES for size in SIZES}
    queries = {(label, size): set() for label, _ in PAGES for size in SIZES}
    loaded = 0
    for _ in range(ROUNDS):
        for size in SIZES:
            resize(user, world, loaded, size)
            loaded = size
            for label, path in PAGES:
                headers = (
                    {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if path.startswith("/api/") else {}
                )
                times, count = measure(client, path, headers)
                timings[(label, size)] += times
                queries[(label, size)].add(count)

    rows, worst = [], 0.0
    small, large = SIZES
    for label, _ in PAGES:
        ratio = common.median(timings[(label, large)]) / common.median(timings[(label, small)])
        worst = max(worst, ratio)
        rows.append(
            [
                label,
                f"{common.median(timings[(label, small)]):.1f}",
                f"{common.p95(timings[(label, small)]):.1f}",
                f"{common.median(timings[(label, large)]):.1f}",
                f"{common.p95(timings[(label, large)]):.1f}",
                f"{ratio:.2f}",
                f"{_counts(queries[(label, small)])} / {_counts(queries[(label, large)])}",
            ]
        )
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}; {ROUNDS} alternating rounds x {REQUESTS} timed "
            f"requests per page and size (after {WARMUP} warm-up each), Django test client "
            "in-process, logged in as the owner of all the VMs",
            "10 % of the VMs are terminated (DONE) and hidden by default; the list page shows "
            "50 per page, the API 100 (limit/offset); the dashboard counts the user's VMs",
        ],
    )
    ok = worst < TARGET_RATIO
    flat = all(
        queries[(label, small)] == queries[(label, large)] and len(queries[(label, small)]) == 1
        for label, _ in PAGES
    )
    common.summary(
        f"worst latency ratio 10,000/100 = {worst:.2f} (target < {TARGET_RATIO}: "
        f"{common.verdict(ok)}); SQL queries per request "
        f"{'constant' if flat else 'GROW with the table'}"
    )
    return 0


def _counts(values: set[int]) -> str:
    return "/".join(str(v) for v in sorted(values))


if __name__ == "__main__":
    sys.exit(main())
