"""A VPC deleted outside the portal (DigitalOcean allows it once its droplets are gone): drift
reports it and the Repair makes it again, with the droplets in the new one."""

import time

import pytest
import requests

from monitoring import drift
from provisions import services
from provisions.choices import ProvisionState, ResourceKind
from provisions.models import CloudResource
from tests.helpers import run_queued

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = {"Authorization": "Bearer lab-token"}


def test_a_vpc_deleted_outside_the_portal_is_made_again_by_the_repair(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="vp"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    row = CloudResource.objects.get(provision=provision, kind=ResourceKind.VPC, name=provision.tag)
    for host in provision.hosts.all():
        requests.delete(f"{sim.url}/v2/droplets/{host.droplet_id}", headers=AUTH, timeout=10)
    time.sleep(0.5)  # the simulator releases a deleted droplet's VPC membership after 0.3 s
    answer = requests.delete(f"{sim.url}/v2/vpcs/{row.cloud_id}", headers=AUTH, timeout=10)
    assert answer.status_code == 204, answer.text
    drift.check_all(drift.TokenBudget())
    provision.refresh_from_db()
    assert f"VPC {provision.tag} deleted outside the portal" in provision.drift

    services.repair_provision(owner, provision)
    provision = run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    row.refresh_from_db()
    vpcs = requests.get(f"{sim.url}/v2/vpcs", headers=AUTH, timeout=10).json()["vpcs"]
    mine = [v for v in vpcs if v["name"] == provision.tag]
    assert len(mine) == 1 and mine[0]["id"] == row.cloud_id
    droplets = requests.get(f"{sim.url}/v2/droplets", headers=AUTH, timeout=10).json()["droplets"]
    assert droplets and all(d["vpc_uuid"] == row.cloud_id for d in droplets)
    log = provision.jobs.filter(kind="repair").get().lines.values_list("message", flat=True)
    assert f"VPC {provision.tag} is gone from DigitalOcean: creating it again" in log
