"""VM deploy throughput with 1 and then 2 job worker processes (lab, PostgreSQL, Redis).

A 2-host lab provision with the Alpine template and its image cached on both hosts; then, in
alternating rounds (1 worker, 2 workers, 1, 2), `manage.py worker` processes (separate OS
processes sharing only PostgreSQL and Redis, one job process each, SCALE_OUT_Q_WORKERS to
change it, so that the worker count is the one thing that changes) are started, BATCH VMs are
instantiated at once, and the time until all are RUNNING is measured. Figures:
VMs per minute with 1 and with 2 workers and their ratio, from the same run. Lab hosts share
this machine's cores with the workers, so the ratio says as much about the machine as about the
portal: the notes show the machine's CPU use during each round.
"""

import os
import signal
import subprocess
import sys
import time

from bench import common, labworld

TITLE = "scale_out: VM deploys with 1 and 2 worker processes"
PROVISION = "scale"
HOSTS = 2
BATCH = 16  # VMs instantiated at once per round
ROUNDS = (1, 2, 1, 2)  # worker processes per round, alternating so background load hits both
Q_WORKERS = int(os.environ.get("SCALE_OUT_Q_WORKERS", "1"))  # job processes per worker
ROUND_TIMEOUT = 300
LAB_GATEWAY = "198.18.0.1"
HEADERS = ["workers", "job processes", "rounds", "VMs", "RUNNING", "seconds", "VMs/min", "CPU busy"]


def redis_url() -> str:
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()  # this bench's own queue
        client.close()
    except redis.RedisError as exc:
        raise common.Skipped(f"needs Redis (REDIS_URL, default {url}): {exc}") from None
    return url


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    labels = ["1 worker", "2 workers", "ratio 2 / 1"]
    if not lab:
        common.skipped(TITLE, reason, HEADERS, labels)
        return 0
    try:
        os.environ["REDIS_URL"] = redis_url()  # before Django: the bench enqueues to Redis
        env = common.django_env("scale_out", need_postgres=True)
        database = env.__enter__()
    except common.Skipped as exc:
        common.skipped(TITLE, str(exc), HEADERS, labels)
        return 0
    try:
        return run(database)
    finally:
        env.__exit__(*sys.exc_info())


def run(database: str) -> int:
    from django.conf import settings

    from lab.images import ensure_alpine_rootfs, start_image_server

    image = ensure_alpine_rootfs()
    settings.PROVISION_POLL_INTERVAL = 0.1
    settings.PROVISION_SSH_WAIT = 20
    settings.QUOTA_DEFAULTS = {"user": {}, "group": {}}
    settings.VM_CPU_OVERCOMMIT = 100.0
    server, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
    try:
        with labworld.simulator(lab=True, boot_delay=0.2) as sim, labworld.CPUSampler() as cpu:
            user, template = build_world(image.name, server.server_address[1])
            rounds = [measure(n, user, template, sim, cpu, index) for index, n in enumerate(ROUNDS)]
    finally:
        server.shutdown()
        server.server_close()
    return report(rounds, database)


def build_world(app_name: str, image_port: int):
    """The provision, deployed inline; the template; one VM per host, so both have the image."""
    from marketplace import sync
    from marketplace.models import Marketplace, MarketplaceApp
    from marketplace.services import export_app
    from provisions import services as provisions
    from vms import services as vms

    user = common.bench_user()
    provider = labworld.provider_for(user)
    provision = provisions.create_provision(
        user, provider=provider, name=PROVISION, host_count=HOSTS
    )  # JOBS_SYNC (labworld.simulator): deployed when this returns
    provision.refresh_from_db()
    if provision.state != "RUNNING":
        raise RuntimeError(f"provision ended {provision.state}: {provision.error[:300]}")
    market = Marketplace.objects.get(name="Edge Lab")
    market.index_url = f"http://{LAB_GATEWAY}:{image_port}/index.json"
    market.save(update_fields=["index_url"])
    sync.sync(market)
    app = MarketplaceApp.objects.get(marketplace=market, name=app_name)
    _, template = export_app(user, app.pk, "alpine", f"{PROVISION}-image")
    for host in range(HOSTS):  # inline too: the scheduler puts them on both hosts
        vm = vms.instantiate(user, template.pk, name=f"warm-{host}", nics=[f"{PROVISION}-public"])
        vm.refresh_from_db()
        if vm.state != "RUNNING":
            raise RuntimeError(f"warm-up VM ended {vm.state}: {vm.failure_reason[:300]}")
    return user, template


def start_workers(count: int, sim) -> list[subprocess.Popen]:
    from django.conf import settings

    env = {
        **os.environ,  # DATABASE_URL and REDIS_URL: this run's database, the bench's queue
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "DIGITALOCEAN_API_URL": sim.url + "/v2/",
        "OUTBOUND_ALLOWED_NETWORKS": "198.18.0.1/32",
        "MONITOR_ENABLED": "false",
        "MONITOR_INTERVAL": "1",
        "Q_WORKERS": str(Q_WORKERS),
        "LOG_LEVEL": "WARNING",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=common.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    common.wait_until(lambda: _alive_workers() >= count, 60, f"{count} worker(s) to start")
    return workers


def _alive_workers() -> int:
    from datetime import timedelta

    from django.utils import timezone

    from monitoring.models import WorkerHeartbeat

    since = timezone.now() - timedelta(seconds=5)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since).count()


def stop_workers(workers) -> None:
    from monitoring.models import WorkerHeartbeat

    for worker in workers:
        os.kill(worker.pid, signal.SIGTERM)  # the cluster stops its processes in order
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    WorkerHeartbeat.objects.all().delete()


def measure(count: int, user, template, sim, cpu, index: int) -> dict:
    from django.conf import settings

    from vms import services as vms
    from vms.models import VM

    workers = start_workers(count, sim)
    settings.JOBS_SYNC = False  # to the broker (Redis), for the workers
    try:
        names = [f"r{index}-{n:02d}" for n in range(BATCH)]
        started = time.time()
        for name in names:
            vms.instantiate(user, template.pk, name=name, nics=[f"{PROVISION}-public"])
        batch = VM.objects.filter(name__in=names)

        def settled():
            return batch.exclude(state__in=["RUNNING", "FAILURE"]).count() == 0

        try:
            common.wait_until(settled, ROUND_TIMEOUT, f"round {index + 1} to settle")
        except RuntimeError:
            pass  # reported as fewer RUNNING
        ended = time.time()
    finally:
        settings.JOBS_SYNC = True
        stop_workers(workers)
    running = batch.filter(state="RUNNING").count()
    return {
        "workers": count,
        "vms": BATCH,
        "running": running,
        "seconds": ended - started,
        "cpu": cpu.busy_percent(started, ended),
    }


def report(rounds: list[dict], database: str) -> int:
    rows, rates = [], {}
    for count in (1, 2):
        mine = [r for r in rounds if r["workers"] == count]
        vms = sum(r["vms"] for r in mine)
        running = sum(r["running"] for r in mine)
        seconds = sum(r["seconds"] for r in mine)
        rates[count] = 60 * running / seconds
        busy = [r["cpu"] for r in mine if r["cpu"] is not None]
        rows.append(
            [
                f"{count}",
                count * Q_WORKERS,
                len(mine),
                vms,
                running,
                f"{seconds:.1f}",
                f"{rates[count]:.1f}",
                f"{sum(busy) / len(busy):.0f} %" if busy else "n/a",
            ]
        )
    ratio = rates[2] / rates[1] if rates[1] else 0.0
    rows.append(["ratio 2 / 1", "", "", "", "", "", f"{ratio:.2f}", ""])
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; Redis broker; {common.machine()}; {HOSTS} lab hosts (network "
            "namespaces on this machine), the image cached on both before the rounds",
            f"rounds alternate {', '.join(map(str, ROUNDS))} worker process(es), each "
            f"`manage.py worker` with Q_WORKERS={Q_WORKERS}; per round {BATCH} VMs instantiated "
            "at once, timed from the first instantiate to the last VM RUNNING",
            "CPU busy: the whole machine's cores during the rounds (lab hosts, workers, "
            "PostgreSQL): near 100 % means the machine, not the worker count, sets the pace",
        ],
    )
    failed = sum(r["vms"] - r["running"] for r in rounds)
    common.summary(
        f"{rates[1]:.1f} VMs/min with 1 worker, {rates[2]:.1f} with 2: ratio {ratio:.2f}"
        + (f"; {failed} VM(s) did not reach RUNNING" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
