"""Load on the production server (PostgreSQL): `manage.py serve` (uvicorn, WEB_PROCESSES
processes) on this machine's loopback, 10,000 VMs in the database, 20 concurrent locust users
requesting the VM list page, then /api/vms/, for LOAD_SECONDS (30) each after a warm-up.
Figures: requests per second, median and p95 latency, errors (target: 0).

The API's per-user throttle (API_RATE_USER, 1200/min) would turn most of this into 429s, since
all 20 users are one owner: the bench server runs with API_RATE_USER=1000000/min. With
REDIS_URL set the server counts throttles in Redis, as production does; without, per process.
The load generator runs on the same machine as the server: both share its cores.
"""

import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import common

TITLE = "load: the production server under 20 concurrent users at 10,000 VMs"
USERS = 20
SECONDS = int(os.environ.get("LOAD_SECONDS", "30"))
WARMUP_SECONDS = 5
VMS = 10_000
PAGES = [("VM list page", "/vms/"), ("/api/vms/", "/api/vms/")]
HEADERS = ["page", "requests", "req/s", "median ms", "p95 ms", "p99 ms", "errors", "error rate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    return common.on_postgres("load", TITLE, HEADERS, [label for label, _ in PAGES], run)


def run(database: str) -> int:
    from django.conf import settings
    from django.test import Client

    from bench.portal_scale import add_vms, build_world
    from core.models import ApiToken

    user = common.bench_user()
    world = build_world(user)
    add_vms(user, world, 0, VMS)
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    _, token = ApiToken.issue(user, "load")

    port = free_port()
    processes = int(os.environ.get("WEB_PROCESSES", os.cpu_count() or 1))
    server_env = {
        **os.environ,
        # The bench's own secret key: the session cookie made above is signed with it.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "API_RATE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    log = tempfile.NamedTemporaryFile(prefix="bench-load-server-", suffix=".log", delete=False)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}"]
        + ["--processes", str(processes), "--no-access-log"],
        cwd=common.ROOT,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        results = {}
        for label, path in PAGES:
            _locust(base, path, session, token, WARMUP_SECONDS)  # caches, connections, JIT-less
            results[label] = _locust(base, path, session, token, SECONDS)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    return report(results, database, processes, Path(log.name))


def _wait_until_up(base: str, server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz in 60 s")


def _locust(base: str, path: str, session: str, token: str, seconds: int) -> dict:
    """One headless locust run against `path`; its figures from locust's CSV of the run."""
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        prefix = str(Path(tmp) / "run")
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(common.ROOT / "bench" / "locust_portal.py")]
            + ["--headless", "--host", base, "--users", str(USERS), "--spawn-rate", str(USERS)]
            + ["--run-time", f"{seconds}s", "--stop-timeout", "5", "--csv", prefix]
            + ["--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**os.environ, "LOAD_PATH": path, "LOAD_SESSION": session, "LOAD_TOKEN": token},
            check=True,
            timeout=seconds + 60,
            capture_output=True,
        )
        with open(f"{prefix}_stats.csv") as stats:
            row = next(r for r in csv.DictReader(stats) if r["Name"] == path)
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "median": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
    }


def report(results: dict, database: str, processes: int, server_log: Path) -> int:
    rows = []
    for label, r in results.items():
        rows.append(
            [
                label,
                r["requests"],
                f"{r['rps']:.1f}",
                f"{r['median']:.0f}",
                f"{r['p95']:.0f}",
                f"{r['p99']:.0f}",
                r["failures"],
                f"{r['failures'] / max(1, r['requests']):.2%}",
            ]
        )
    redis = (
        "REDIS_URL set: throttles counted in Redis"
        if os.environ.get("REDIS_URL")
        else ("no REDIS_URL: throttles counted per process")
    )
    common.table(
        TITLE,
        HEADERS,
        rows,
        [
            f"{database}; {common.machine()}",
            f"server: `manage.py serve` (uvicorn, {processes} processes, persistent DB "
            f"connections off under ASGI), loopback; {redis}; API_RATE_USER=1000000/min for "
            "this server (all users are one owner: the default 1200/min would answer 429)",
            f"load: locust {USERS} users (FastHttpUser, no think time: closed loop, {USERS} "
            f"requests in flight), {SECONDS} s per page after a {WARMUP_SECONDS} s warm-up, on "
            "the same machine as the server (they share its cores)",
            f"{VMS:,} VMs of one owner (10 % terminated, hidden); the page shows 50 per page, "
            "the API 100; latencies are locust's (ms, rounded by it)",
            f"server log: {server_log}",
        ],
    )
    errors = sum(r["failures"] for r in results.values())
    figures = "; ".join(
        f"{label} {r['rps']:.0f} req/s, p95 {r['p95']:.0f} ms" for label, r in results.items()
    )
    common.summary(f"{figures}; errors {errors} (target 0: {common.verdict(errors == 0)})")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
