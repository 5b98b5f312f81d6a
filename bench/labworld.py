"""The simulator (and, as root, the edge-host lab) with the portal pointed at it, the way
tests/lab/conftest.py sets it up, plus the counters the benchmarks report."""

import tempfile
import threading
from collections import Counter
from contextlib import contextmanager

from bench import common


class SSHCounter:
    """Counts SSH connection attempts and established connections per address, by wrapping
    the one place the portal opens them (provisions.ssh.HostSession._connect_once)."""

    def __init__(self):
        self.attempts: Counter = Counter()
        self.connected: Counter = Counter()
        self._lock = threading.Lock()

    def install(self):
        from provisions import ssh

        real = ssh.HostSession._connect_once
        counter = self

        def counted(session):
            with counter._lock:
                counter.attempts[session.address] += 1
            real(session)
            with counter._lock:
                counter.connected[session.address] += 1

        ssh.HostSession._connect_once = counted

    def reset(self):
        self.attempts.clear()
        self.connected.clear()


@contextmanager
def simulator(*, lab: bool, **faults):
    """A simulator in this process; with lab=True every droplet is a real lab host (root)."""
    from django.conf import settings

    from lab.docsim import start_in_thread

    hosts = None
    if lab:
        from lab.hosts import LabHosts

        hosts = LabHosts(tempfile.mkdtemp(prefix="bench-lab-"))
    sim = start_in_thread(port=0, lab_hosts=hosts, **faults)
    settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
    settings.JOBS_SYNC = True  # no worker process: jobs run inline, so wall time is the job's
    try:
        yield sim
    finally:
        sim.stop()  # with lab hosts: removes every one of them


def provider_for(user, name="bench-sim"):
    from providers.models import Provider

    provider = Provider(name=name, region="nyc3", owner=user, plain={}, inputs=[])
    provider.set_token("lab-token")
    provider.save()
    return provider


def step_seconds(provision) -> dict[str, float]:
    """Seconds per deploy step, from the job's log lines ("step i/n: name")."""
    job = provision.jobs.filter(kind="deploy").order_by("-id").first()
    lines = list(job.lines.values_list("at", "message"))
    marks = [(at, msg.split(": ", 1)[1]) for at, msg in lines if msg.startswith("step ")]
    end = lines[-1][0]
    result = {}
    for (at, name), (next_at, _) in zip(marks, [*marks[1:], (end, "")], strict=True):
        result[name] = (next_at - at).total_seconds()
    return result


def lab_or_reason() -> tuple[bool, str]:
    problem = common.lab_problem()
    return problem is None, problem or ""
