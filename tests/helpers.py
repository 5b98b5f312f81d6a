"""What tests do with the DigitalOcean simulator and the job queue: run the queued jobs, see
what a provision left in the cloud, read its firewall."""

from jobs.states import JobState
from provisions import jobs
from provisions.models import Job

EVERYWHERE = {"addresses": ["0.0.0.0/0", "::/0"]}


class WorkerKilled(BaseException):
    """A worker killed mid-run: a BaseException, so no `except Exception` in the job records a
    failure, as none would run in a process that is gone."""


def kill_after_step(monkeypatch, run_class, step: str) -> None:
    """The worker dies as `step` of `run_class` ends: the step's work is done and recorded,
    nothing after it runs. Undo with the monkeypatch (`monkeypatch.context()`)."""
    finish_step = getattr(run_class, f"step_{step}")

    def step_then_die(self):
        finish_step(self)
        raise WorkerKilled(f"after step {step}")

    monkeypatch.setattr(run_class, f"step_{step}", step_then_die)


def tagged(sim, tag):
    """Everything in the simulator that carries or is named by the tag."""
    state = sim.state_snapshot() if hasattr(sim, "state_snapshot") else simulator_state(sim)
    return {
        "droplets": [d for d in state["droplets"] if tag in d.get("tags", [])],
        "firewalls": [f for f in state["firewalls"] if f["name"] == tag],
        "vpcs": [v for v in state["vpcs"] if v["name"] == tag],
        "ssh_keys": [k for k in state["ssh_keys"] if k["name"] == tag],
    }


def simulator_state(sim):
    import requests

    return requests.get(sim.url + "/_sim/state", timeout=5).json()


def nothing_left(sim, tag):
    return all(not objects for objects in tagged(sim, tag).values())


def run_queued(provision):
    for job in Job.objects.filter(provision=provision, state=JobState.QUEUED):
        jobs.run_job(job.pk)
    provision.refresh_from_db()
    return provision


def default_rules(vpc_range):
    return {
        "inbound_rules": [
            {"protocol": "tcp", "ports": "22", "sources": EVERYWHERE},
            {"protocol": "tcp", "ports": "9001-59000", "sources": EVERYWHERE},
            {"protocol": "udp", "ports": "9001-59000", "sources": EVERYWHERE},
            {"protocol": "icmp", "ports": "0", "sources": EVERYWHERE},
            {"protocol": "tcp", "ports": "179", "sources": {"addresses": [vpc_range]}},
            {"protocol": "udp", "ports": "4789", "sources": {"addresses": [vpc_range]}},
        ],
        "outbound_rules": [
            {"protocol": p, "ports": "0", "destinations": EVERYWHERE}
            for p in ("tcp", "udp", "icmp")
        ],
    }


def cloud_firewall(sim, tag):
    [firewall] = [f for f in sim.state_snapshot()["firewalls"] if f["name"] == tag]
    return firewall


def vpc_range(sim, tag):
    [vpc] = [v for v in sim.state_snapshot()["vpcs"] if v["name"] == tag]
    return vpc["ip_range"]
