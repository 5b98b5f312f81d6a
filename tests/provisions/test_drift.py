"""The drift check against the simulator: droplets deleted or powered off behind the portal's
back, one listing per kind per token whatever the number of provisions, and the rate budget."""

import time

import pytest
import requests
from django.core.exceptions import ValidationError

from jobs.states import JobState
from monitoring import drift
from provisions import services
from provisions.choices import HostProblem, HostState
from provisions.models import Host, Job
from tests.helpers import run_queued

pytestmark = pytest.mark.django_db(transaction=True)


def deployed(owner, provider, name, hosts=1):
    """A provision whose cloud part is done (no lab: host configuration fails, so ERROR)."""
    provision = services.create_provision(owner, provider=provider, name=name, host_count=hosts)
    return run_queued(provision)


def sim_call(sim, method, path, **body):
    response = requests.request(
        method,
        f"{sim.url}/v2/{path}",
        json=body or None,
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert response.status_code < 300, response.text
    return response


def test_droplets_carry_the_portals_common_tag(sim, sim_provider, owner, settings):
    provision = deployed(owner, sim_provider, "edge")
    droplets = sim.state_snapshot()["droplets"]
    assert all(settings.DIGITALOCEAN_PORTAL_TAG in d["tags"] for d in droplets)
    assert all(provision.tag in d["tags"] for d in droplets)


def test_droplet_deleted_outside_the_portal_is_host_error_and_drift(sim, sim_provider, owner):
    provision = deployed(owner, sim_provider, "edge", hosts=2)
    gone, kept = provision.hosts.order_by("id")
    sim_call(sim, "DELETE", f"droplets/{gone.droplet_id}")
    [report] = drift.check_all(drift.TokenBudget())
    gone.refresh_from_db()
    kept.refresh_from_db()
    provision.refresh_from_db()
    assert (gone.state, gone.problem) == (HostState.ERROR, HostProblem.DROPLET_GONE)
    assert gone.events.last().source == "monitor"
    assert kept.problem == ""
    assert provision.drift == [
        f"{gone.name}: droplet deleted outside the portal (droplet {gone.droplet_id})"
    ]
    assert report.findings == provision.drift
    assert services.needs_repair(provision)


def test_a_droplet_without_the_common_tag_is_asked_for_not_called_gone(
    sim, sim_provider, owner, settings
):
    provision = deployed(owner, sim_provider, "edge")
    host = provision.hosts.get()
    tag = settings.DIGITALOCEAN_PORTAL_TAG
    resources = [{"resource_id": str(host.droplet_id), "resource_type": "droplet"}]
    sim_call(sim, "DELETE", f"tags/{tag}/resources", resources=resources)  # as made before it
    [report] = drift.check_all(drift.TokenBudget())
    assert report.findings == [] and report.api_calls == drift.CALLS_PER_CHECK + 1
    assert Host.objects.get(pk=host.pk).problem == ""


def test_droplet_powered_off_is_reported_off(sim, sim_provider, owner):
    provision = deployed(owner, sim_provider, "edge")
    host = provision.hosts.get()
    action = sim_call(sim, "POST", f"droplets/{host.droplet_id}/actions", type="power_off")
    time.sleep(0.6)  # the simulator completes an action half a second after it starts
    sim_call(sim, "GET", f"actions/{action.json()['action']['id']}")
    drift.check_all(drift.TokenBudget())
    host.refresh_from_db()
    assert (host.state, host.problem) == (HostState.ERROR, HostProblem.DROPLET_OFF)


def test_calls_per_token_do_not_grow_with_provisions(sim, sim_provider, owner):
    deployed(owner, sim_provider, "one")
    [first] = drift.check_all(drift.TokenBudget())
    for name in ("two", "three", "four"):
        deployed(owner, sim_provider, name)
    [more] = drift.check_all(drift.TokenBudget())
    assert (first.provisions, more.provisions) == (1, 4)
    assert first.api_calls == more.api_calls == drift.CALLS_PER_CHECK


def test_provisions_with_a_job_at_work_are_not_judged(sim, sim_provider, owner):
    provision = deployed(owner, sim_provider, "edge")
    host = provision.hosts.get()
    sim_call(sim, "DELETE", f"droplets/{host.droplet_id}")
    Job.objects.filter(provision=provision).update(state=JobState.RUNNING)
    assert drift.check_all(drift.TokenBudget()) == []
    assert Host.objects.get(pk=host.pk).problem == ""


def test_the_check_keeps_within_its_share_of_the_rate_budget(sim, sim_provider, owner, settings):
    settings.MONITOR_API_SHARE = 0.001  # 5 requests an hour: one check of 3 fits, not two
    deployed(owner, sim_provider, "edge")
    budget = drift.TokenBudget()
    [first] = drift.check_all(budget)
    [second] = drift.check_all(budget)
    assert first.api_calls == 3 and first.skipped is None
    assert second.api_calls == 0 and "budget" in second.skipped


def test_the_check_rests_when_digitalocean_says_few_requests_are_left(
    sim, sim_provider, owner, settings
):
    settings.MONITOR_API_RESERVE = 10**6  # any ratelimit-remaining is "few"
    deployed(owner, sim_provider, "edge")
    budget = drift.TokenBudget()
    drift.check_all(budget)
    [rested] = drift.check_all(budget)
    assert rested.api_calls == 0 and "resting" in rested.skipped


def test_repair_is_refused_when_there_is_nothing_to_repair(cluster, owner):
    with pytest.raises(ValidationError, match="nothing to repair"):
        services.repair_provision(owner, cluster)
