"""Deleting a provision's VPC right after its droplets: DigitalOcean refuses (403) until it has
released their memberships, minutes later. The delete job waits with backoff, says why, gives
up after PROVISION_VPC_RELEASE_TIMEOUT, and a later retry finishes the job."""

import time

import pytest

from provisions import services
from provisions.choices import ProvisionState
from tests.helpers import nothing_left, run_queued

pytestmark = pytest.mark.django_db(transaction=True)

WAITING = "still has members (DigitalOcean releases them a few minutes after the droplets go)"


def delete_log(provision):
    job = provision.jobs.filter(kind="delete").order_by("-id").first()
    return list(job.lines.values_list("message", flat=True))


def test_delete_waits_for_the_vpc_members_to_be_released_and_says_why(sim, sim_provider, owner):
    sim.set_faults(vpc_member_linger=1.5)
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="vpc"))
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert nothing_left(sim, provision.tag)
    waits = [
        float(line.rsplit("retrying in ", 1)[1].removesuffix(" s"))
        for line in delete_log(provision)
        if WAITING in line
    ]
    # From the poll interval, doubling each time.
    assert len(waits) >= 3 and waits[:3] == [0.05, 0.1, 0.2], waits


def test_a_vpc_held_longer_than_the_timeout_fails_the_delete_and_a_retry_ends_it(
    sim, sim_provider, owner, settings
):
    sim.set_faults(vpc_member_linger=1.5)
    settings.PROVISION_VPC_RELEASE_TIMEOUT = 0.3
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="vpc"))
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.ERROR
    assert provision.failed_step == "delete:vpc"
    assert "still has members after 0.3 s; delete again later" in provision.error
    time.sleep(1.5)
    services.delete_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.DONE, provision.error
    assert nothing_left(sim, provision.tag)
