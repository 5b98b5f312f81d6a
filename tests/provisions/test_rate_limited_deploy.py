"""DigitalOcean's rate limits met for real (the simulator's sliding windows, shrunk 12.5 times):
a 16-host deploy and its delete under a token another client has nearly spent, and the job
log saying what the limits cost."""

import re

import pytest

from provisions import services
from provisions.choices import HostState, ProvisionState
from tests.helpers import nothing_left, run_queued
from tests.provisions.conftest import SIM_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

RATE_LIMITED = re.compile(r"rate limited: (\d+) × 429, waited ([0-9.]+) s")


def job_log(provision, kind) -> list[str]:
    job = provision.jobs.filter(kind=kind).order_by("-id").first()
    return list(job.lines.values_list("message", flat=True))


def rate_limit_cost(log) -> tuple[int, float]:
    found = [RATE_LIMITED.search(line) for line in log if RATE_LIMITED.search(line)]
    assert len(found) == 1, log
    return int(found[0].group(1)), float(found[0].group(2))


def test_a_16_host_deploy_and_delete_under_a_token_that_used_most_of_its_minute(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    sim.set_faults(rate_time_scale=0.08)  # a minute lasts 4.8 s
    # Another client of the same token made 240 of its 250 requests of this minute.
    sim.spend(SIM_TOKEN, 240)
    provision = services.create_provision(owner, provider=sim_provider, name="big", host_count=16)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    assert provision.hosts.filter(state=HostState.RUNNING).count() == 16
    deploy_429s, deploy_wait = rate_limit_cost(job_log(provision, "deploy"))

    sim.spend(SIM_TOKEN, 240)  # and again before the delete
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert nothing_left(sim, provision.tag)
    delete_429s, delete_wait = rate_limit_cost(job_log(provision, "delete"))

    refused = sim.state()["api_calls"]["rate_limited"]
    assert refused.get("per-minute", 0) == deploy_429s + delete_429s >= 2
    # Each 429 waited its retry-after: until the other client's requests left the window.
    assert deploy_wait > 0.5 and delete_wait > 0.5
    print(
        f"\n16-host deploy: {deploy_429s} × 429, waited {deploy_wait} s; "
        f"delete: {delete_429s} × 429, waited {delete_wait} s"
    )
