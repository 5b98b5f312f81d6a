"""Production shape, in the lab: the ASGI server (`manage.py serve`, two uvicorn processes) and
two job workers (`manage.py worker`) as separate OS processes sharing nothing but PostgreSQL and
Redis (each its own data directory; keys from the environment). Driven through the API and the
pages at once: 4 provisions of one lab host, then 10 VMs instantiated on each, while readers
load the VM page, the dashboard and the API. One worker is SIGKILLed (its whole process group)
mid-way, holding a VM job. Everything still converges: provisions and VMs RUNNING, one droplet
per host, every port block and container address once per host (in the database and in each
host's iptables), and no job held by two workers at once (read from the jobs' lease notes)."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core.models import ApiToken
from jobs.states import JOB_LIVE, JobState
from lab.docsim import start_in_thread
from lab.hosts import net
from lab.hosts.manager import NETNS_PREFIX
from lab.images import ensure_alpine_rootfs, start_image_server
from marketplace.models import Marketplace
from provisions.models import Host, Job, JobLogLine, Provision
from tests.factories import make_provider
from tests.lab.helpers import (
    assert_exactly_the_requested_droplets,
    database_url,
    kill_group,
    wait_until,
)
from tests.lease_log import holders
from vms.models import VM, VMJob, VMLogLine

pytestmark = [pytest.mark.lab, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PROVISIONS = 4
VMS_EACH = 10
TIMEOUT = 240  # seconds for everything to converge (about 90 s here)


def require_postgres_and_redis() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: CI's PostgreSQL pass runs it (DATABASE_URL)")
    url = os.environ.get("EDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()  # this test's own Redis database: no task of an earlier run
        client.close()
    except redis.RedisError as exc:
        problem = f"needs Redis at {url} (EDGE_TEST_REDIS_URL): {exc}"
        if os.environ.get("EDGE_LAB_REQUIRED") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    """The portal's API over HTTP with one user's token."""

    def __init__(self, base: str, token: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        # Several threads (the cluster builders) share it: one connection each.
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def get(self, path: str, expect: int = 200):
        response = self.session.get(self.base + path, timeout=60)
        assert response.status_code == expect, f"GET {path}: {response.status_code} {response.text}"
        return response

    def post(self, path: str, body: dict, expect: int):
        response = self.session.post(self.base + path, json=body, timeout=120)
        assert response.status_code == expect, (
            f"POST {path}: {response.status_code} {response.text}"
        )
        return response.json()


@pytest.fixture
def production(lab_hosts, tmp_path):
    redis_url = require_postgres_and_redis()
    image = ensure_alpine_rootfs()
    with start_in_thread(port=0, boot_delay=0.2, lab_hosts=lab_hosts, vpc_member_linger=1.0) as sim:
        images, _ = start_image_server(host="0.0.0.0", cache=image.path.rsplit("/", 1)[0])  # noqa: S104
        Marketplace.objects.filter(name="Edge Lab").update(
            index_url=f"http://198.18.0.1:{images.server_address[1]}/index.json"
        )
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            # Keys from the environment, as on machines that share no files.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
            "DIGITALOCEAN_API_URL": sim.url + "/v2/",
            "OUTBOUND_ALLOWED_NETWORKS": "198.18.0.1/32",
            "JOB_LEASE_SECONDS": "4",
            "JOB_HEARTBEAT_SECONDS": "0.5",
            "MONITOR_ENABLED": "false",
            "MONITOR_INTERVAL": "1",  # the supervisor's tick: heartbeat and lease sweep
            "PROVISION_POLL_INTERVAL": "0.1",
            "PROVISION_SSH_WAIT": "20",
            "Q_WORKERS": "3",
            # 40 VMs of one user on 4 hosts of this machine's few cores.
            "VM_QUOTA_VMS": "100",
            "VM_QUOTA_CPU": "100",
            "VM_CPU_OVERCOMMIT": "50",
            "API_RATE_USER": "100000/min",  # the readers poll fast
        }
        started = []

        def start(name: str, *argv: str) -> subprocess.Popen:
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the test
            process = subprocess.Popen(
                [sys.executable, "manage.py", *argv],
                cwd=ROOT,
                env={**env, "PORTAL_DATA_DIR": str(tmp_path / f"data-{name}")},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started.append((process, log))
            return process

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        start("web", "serve", "--bind", f"127.0.0.1:{port}", "--processes", "2", "--no-access-log")
        workers = [start("worker-a", "worker"), start("worker-b", "worker")]
        try:
            wait_until(lambda: _ready(base), 60, f"/readyz to answer 200\n{logs(tmp_path)}")
            yield {"base": base, "sim": sim, "workers": workers, "tmp": tmp_path, "image": image}
        finally:
            for process, log in started:
                kill_group(process.pid)
                process.wait(timeout=10)
                log.close()
            images.shutdown()
            images.server_close()


def _ready(base: str) -> bool:
    try:
        return requests.get(base + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def logs(tmp_path) -> str:
    return "\n".join(
        f"== {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp_path.glob("*.log"))
    )


def page_session(base: str, user) -> requests.Session:
    """A browser session for `user` (its session row made here, signed with the shared key)."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    return session


class Readers:
    """Pages and API reads in a loop while the world is being built; every answer must be 200."""

    PAGES = ["/vms/", "/", "/provisions/"]
    API = ["/api/vms/?limit=50", "/api/provisions/", "/api/templates/"]

    def __init__(self, base: str, browser: requests.Session, api: Api):
        self.base, self.browser, self.api = base, browser, api
        self.answers: dict[str, list[int]] = {}
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(self.browser, self.PAGES)),
            threading.Thread(target=self._loop, args=(self.api.session, self.API)),
        ]

    def _loop(self, session, paths):
        while not self.stop.is_set():
            for path in paths:
                try:
                    status = session.get(self.base + path, timeout=60).status_code
                except requests.RequestException as exc:
                    status = f"{exc.__class__.__name__}"
                self.answers.setdefault(path, []).append(status)
            self.stop.wait(0.1)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=70)


def holder_group(owner: str) -> int | None:
    """The process group (the worker command) of a lease owner `host:pid:random`."""
    try:
        return os.getpgid(int(owner.split(":")[1]))
    except (ProcessLookupError, IndexError, ValueError):
        return None


class Killer(threading.Thread):
    """SIGKILLs the worker holding a VM job, once some VMs are RUNNING and others are not."""

    def __init__(self, workers, done: threading.Event):
        super().__init__(daemon=True)
        self.workers, self.done = workers, done
        self.victim = None
        self.held: list[int] = []

    def run(self):
        try:
            while not self.done.is_set() and self.victim is None:
                if VM.objects.filter(state="RUNNING").count() >= 5:
                    self._try_kill()
                time.sleep(0.05)
        finally:
            connection.close()

    def _try_kill(self):
        running = VMJob.objects.filter(state=JobState.RUNNING).exclude(lease_owner="")
        # Groups read before the kill: a dead process has none.
        held = [(pk, holder_group(owner)) for pk, owner in running.values_list("pk", "lease_owner")]
        for _, group in held:
            victim = next((w for w in self.workers if w.pid == group), None)
            if victim is None:
                continue
            kill_group(victim.pid)
            victim.wait(timeout=10)
            self.victim = victim
            # Only what it still held once dead: a job may have ended between the read and the
            # kill, and that one is nobody's to take over.
            still = set(
                VMJob.objects.filter(
                    state=JobState.RUNNING, pk__in=[pk for pk, _ in held]
                ).values_list("pk", flat=True)
            )
            self.held = [pk for pk, g in held if g == victim.pid and pk in still]
            return


def settled_provision(api: Api, pk: int) -> dict | None:
    provision = api.get(f"/api/provisions/{pk}/").json()
    return provision if provision["state"] in ("RUNNING", "ERROR") else None


def settled_vms(api: Api, count: int) -> list[dict] | None:
    vms = api.get("/api/vms/?limit=100").json()["results"]
    if len(vms) != count or any(v["state"] not in ("RUNNING", "FAILURE") for v in vms):
        return None
    # A job records its end just after its VM's last transition: wait for that too, or a
    # taken-over job is caught between the two and looks stuck.
    if VMJob.objects.filter(state__in=JOB_LIVE).exists():
        return None
    return vms


def build_cluster(index: int, api: Api, operator: Api, app_name: str, synced: dict) -> list[int]:
    """One provision, its template and its VMs, all through the API; returns the VM IDs."""
    try:
        return _build_cluster(index, api, operator, app_name, synced)
    finally:
        connection.close()  # this thread's own, opened for the assertions' messages


def _build_cluster(index: int, api: Api, operator: Api, app_name: str, synced: dict):
    name = f"edge{index}"
    provision = api.post("/api/provisions/", {"name": name, "provider": "lab", "hosts": 1}, 201)
    state = wait_until(
        lambda: settled_provision(api, provision["id"]), TIMEOUT, f"provision {name} to settle"
    )
    assert state["state"] == "RUNNING", Provision.objects.get(pk=provision["id"]).error
    with synced["lock"]:
        # The lab marketplace's index is read through the lab bridge, there once a host is.
        if not synced["done"]:
            market = Marketplace.objects.get(name="Edge Lab").pk
            operator.post(f"/api/marketplaces/{market}/sync/", {}, 200)
            synced["done"] = True
    apps = api.get(f"/api/marketplaceapps/?name={requests.utils.quote(app_name)}").json()
    app = apps["results"][0]["id"] if isinstance(apps, dict) else apps[0]["id"]
    exported = api.post(
        f"/api/marketplaceapps/{app}/export/",
        {"name": f"alpine{index}", "datastore": f"{name}-image"},
        201,
    )

    def instantiate(number: int) -> int:
        body = {"name": f"vm{index}-{number:02d}", "nics": [f"{name}-public"]}
        return api.post(f"/api/templates/{exported['template']}/instantiate/", body, 201)["id"]

    with ThreadPoolExecutor(max_workers=5) as pool:
        return list(pool.map(instantiate, range(VMS_EACH)))


def iptables_forwards(droplet_id: int) -> list[tuple[str, str, str]]:
    """(protocol, external port range, container address) of every DNAT rule on a lab host."""
    rules = net.run("iptables", "-t", "nat", "-S", netns=f"{NETNS_PREFIX}{droplet_id}").stdout
    pattern = re.compile(r"-p (\w+) .*--dport (\d+:\d+) -j DNAT --to-destination ([\d.]+):")
    return [m.groups() for m in map(pattern.search, rules.splitlines()) if m]


def samples(text: str) -> dict[tuple, float]:
    """/metrics as {(name, frozenset of labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_web_and_two_workers_on_postgresql_and_redis_survive_a_killed_worker(
    production, owner, operator
):
    base = production["base"]
    make_provider(owner, name="lab", token="lab-token")
    # The region starts empty: the four deploys race to create its default VPC.
    api = Api(base, ApiToken.issue(owner, "driver")[1])
    op_api = Api(base, ApiToken.issue(operator, "prometheus")[1])
    done = threading.Event()
    killer = Killer(production["workers"], done)
    synced = {"lock": threading.Lock(), "done": False}

    reader_api = Api(base, ApiToken.issue(owner, "reader")[1])  # a session per thread
    with Readers(base, page_session(base, owner), reader_api) as readers:
        killer.start()
        try:
            with ThreadPoolExecutor(max_workers=PROVISIONS) as pool:
                futures = [
                    pool.submit(build_cluster, i, api, op_api, production["image"].name, synced)
                    for i in range(PROVISIONS)
                ]
                vm_ids = [vm for future in futures for vm in future.result()]
            settled = wait_until(
                lambda: settled_vms(api, len(vm_ids)),
                TIMEOUT,
                f"the VMs to settle\n{logs(production['tmp'])}",
            )
        finally:
            done.set()
            killer.join(timeout=10)

    # Everything converged, the kill included.
    assert killer.victim is not None, "no worker was killed: the VMs were done too soon"
    assert len(vm_ids) == PROVISIONS * VMS_EACH
    failed = {
        v["name"]: VM.objects.get(pk=v["id"]).failure_reason
        for v in settled
        if v["state"] != "RUNNING"
    }
    assert not failed, f"{failed}\n{logs(production['tmp'])}"
    provisions = list(Provision.objects.filter(name__startswith="edge"))
    assert sorted(p.state for p in provisions) == ["RUNNING"] * PROVISIONS
    for provision in provisions:
        assert_exactly_the_requested_droplets(production["sim"], provision, 1)
    assert len(production["sim"].state_snapshot()["droplets"]) == PROVISIONS

    # The lost VM job(s) were taken over and finished by the other worker.
    survivor = next(w for w in production["workers"] if w is not killer.victim)
    assert survivor.poll() is None
    taken_over = VMJob.objects.filter(takeovers__gte=1)
    assert taken_over.exists(), "the killed worker's VM job was never taken over"
    assert set(taken_over.values_list("state", flat=True)) == {JobState.SUCCESS}
    assert set(killer.held) <= set(taken_over.values_list("pk", flat=True))

    # No job was ever held by two workers at once, provision or VM.
    for job in Job.objects.filter(provision__in=provisions):
        holders(JobLogLine.objects.filter(job=job).order_by("pk").values_list("message", flat=True))
    final_holders = {}
    for job in VMJob.objects.all():
        lines = VMLogLine.objects.filter(vm_id=job.vm_id, message__startswith=f"job {job.pk}: ")
        history = holders(lines.order_by("pk").values_list("message", flat=True))
        assert history, f"VM job {job.pk} has no lease notes"
        final_holders[job.pk] = history[-1]
    assert VMJob.objects.filter(state=JobState.SUCCESS).count() == PROVISIONS * VMS_EACH

    # Port blocks and container addresses: once per host, in the database and on the host.
    for host in Host.objects.filter(provision__in=provisions):
        vms = VM.objects.filter(host=host, state="RUNNING")
        blocks = [nic.port_block.external_range for vm in vms for nic in vm.nics.all()]
        addresses = [nic.ip for vm in vms for nic in vm.nics.all()]
        assert len(set(blocks)) == len(blocks) == vms.count()
        assert len(set(addresses)) == len(addresses) == vms.count()
        forwards = [f for f in iptables_forwards(host.droplet_id) if f[0] == "tcp"]
        assert sorted(f[1] for f in forwards) == sorted(blocks), forwards
        assert sorted(f[2] for f in forwards) == sorted(addresses), forwards

    # Every read during all this was answered.
    assert readers.answers and all(len(a) >= 3 for a in readers.answers.values()), readers.answers
    bad = {path: [s for s in statuses if s != 200] for path, statuses in readers.answers.items()}
    assert not any(bad.values()), bad

    # The survivor keeps the portal ready; /metrics counts the same world.
    assert requests.get(base + "/readyz", timeout=10).status_code == 200
    time.sleep(2 * settings.METRICS_FLUSH_SECONDS + 1)  # the workers' last counts written
    shown = samples(op_api.get("/metrics").text)

    def value(name, **labels):
        return shown.get((name, frozenset(labels.items())))

    assert value("edge_vms", state="RUNNING") == PROVISIONS * VMS_EACH
    assert value("edge_provisions", state="RUNNING") == PROVISIONS
    assert value("edge_job_takeovers_total", target="vm") >= 1
    deploys = value(
        "edge_job_duration_seconds_count", target="vm", kind="deploy", outcome="SUCCESS"
    )
    by_survivor = sum(1 for owner in final_holders.values() if holder_group(owner) == survivor.pid)
    # Counts of the killed worker's last second died with it; the survivor's are all there.
    assert by_survivor <= deploys <= PROVISIONS * VMS_EACH
