"""The provision's firewall is least-privilege: SSH, the forwarded ports and ICMP from anywhere,
BGP and VXLAN from the provision's VPC only, everything outbound; the deploy and the repair of
a deleted firewall both use provisions.firewall_rules."""

import pytest
import requests

from monitoring import drift
from provisions import firewall_rules, services
from provisions.choices import ProvisionState, ResourceKind
from provisions.models import CloudResource
from tests.helpers import cloud_firewall, default_rules, run_queued, vpc_range
from vms.choices import MAX_BLOCKS_PER_HOST, PORT_BASE, PORTS_PER_NIC

EVERYWHERE = {"addresses": ["0.0.0.0/0", "::/0"]}


def test_the_forwarded_range_is_every_block_vms_can_allocate():
    first = PORT_BASE
    last = PORT_BASE + MAX_BLOCKS_PER_HOST * PORTS_PER_NIC - 1
    assert firewall_rules.FORWARDED_PORTS == f"{first}-{last}"


@pytest.mark.django_db
def test_rules_for_a_provision_in_the_api_shape(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    assert firewall_rules.rules_for(cluster).as_api() == default_rules("10.9.0.0/20")


@pytest.mark.django_db
def test_without_a_known_vpc_range_there_are_no_rules(cluster):
    with pytest.raises(firewall_rules.UnknownVPCRange, match="VPC range of provision dc"):
        firewall_rules.rules_for(cluster)


@pytest.mark.django_db(transaction=True)
def test_the_deployed_firewall_has_exactly_the_default_rules(sim, sim_provider, owner):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    firewall = cloud_firewall(sim, provision.tag)
    assert firewall["tags"] == [provision.tag]
    rules = {k: firewall[k] for k in ("inbound_rules", "outbound_rules")}
    assert rules == default_rules(vpc_range(sim, provision.tag))


@pytest.mark.django_db(transaction=True)
def test_a_firewall_deleted_outside_the_portal_is_repaired_with_the_same_rules(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    gone = cloud_firewall(sim, provision.tag)
    answer = requests.delete(
        f"{sim.url}/v2/firewalls/{gone['id']}",
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert answer.status_code == 204
    drift.check_all(drift.TokenBudget())
    provision.refresh_from_db()
    assert provision.drift == [f"Firewall {provision.tag} deleted outside the portal"]
    services.repair_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    again = cloud_firewall(sim, provision.tag)
    assert again["id"] != gone["id"]
    assert {k: again[k] for k in ("inbound_rules", "outbound_rules")} == default_rules(
        vpc_range(sim, provision.tag)
    )
    log = provision.jobs.filter(kind="repair").get().lines.values_list("message", flat=True)
    assert f"firewall {provision.tag} is gone from DigitalOcean: creating it again" in log
