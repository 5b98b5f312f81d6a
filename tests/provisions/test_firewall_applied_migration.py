"""Migration 0007 gives firewall ledger rows without a record of the rules the portal applied
the defaults those deploys applied. From then on such a firewall is like any other: one that
holds something else (allow-all, as the earliest deploys left it) is reported as drift, and the
firewall job puts the defaults and the groups' rules on it and records them."""

from importlib import import_module

import pytest
import requests
from django.apps import apps

from jobs.states import JobState
from monitoring import drift
from provisions import services
from provisions.choices import JobKind, ProvisionState, ResourceKind
from provisions.models import CloudResource, SecurityGroup
from tests.helpers import cloud_firewall, default_rules, run_queued, vpc_range

pytestmark = pytest.mark.django_db(transaction=True)

EVERYTHING = {"addresses": ["0.0.0.0/0", "::/0"]}
ALLOW_ALL = {
    "inbound_rules": [
        {"protocol": p, "ports": "0", "sources": EVERYTHING} for p in ("tcp", "udp", "icmp")
    ],
    "outbound_rules": [
        {"protocol": p, "ports": "0", "destinations": EVERYTHING} for p in ("tcp", "udp", "icmp")
    ],
}
WEB = {"protocol": "tcp", "ports": "8080", "sources": {"addresses": ["203.0.113.0/24"]}}


def record_applied_rules():
    migration = import_module("provisions.migrations.0009_firewall_applied_rules")
    migration.record_applied_rules(apps, None)


def rules_of(firewall):
    return {k: firewall[k] for k in ("inbound_rules", "outbound_rules")}


def firewall_row(provision):
    return CloudResource.objects.get(provision=provision, kind=ResourceKind.FIREWALL)


def without_a_record(provision):
    row = firewall_row(provision)
    row.data = {k: v for k, v in row.data.items() if k != "applied"}
    row.save()
    return row


def allow_all(sim, provision):
    firewall = cloud_firewall(sim, provision.tag)
    answer = requests.put(
        f"{sim.url}/v2/firewalls/{firewall['id']}",
        json={"name": firewall["name"], "tags": firewall["tags"], **ALLOW_ALL},
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def deployed(sim, sim_provider, owner, hosts_configure_without_ssh):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="old"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    return provision


def test_a_row_without_a_record_gets_the_defaults_and_others_are_left(sim, deployed):
    recorded = firewall_row(deployed).data["applied"]
    row = without_a_record(deployed)
    record_applied_rules()
    row.refresh_from_db()
    assert row.data["applied"] == default_rules(vpc_range(sim, deployed.tag))

    with_groups = {**recorded, "inbound_rules": [*recorded["inbound_rules"], WEB]}
    CloudResource.objects.filter(pk=row.pk).update(data={**row.data, "applied": with_groups})
    record_applied_rules()
    row.refresh_from_db()
    assert row.data["applied"] == with_groups


def test_a_row_whose_vpc_range_is_unknown_is_left_without_a_record(deployed):
    row = without_a_record(deployed)
    CloudResource.objects.filter(provision=deployed, kind=ResourceKind.VPC).update(data={})
    record_applied_rules()
    row.refresh_from_db()
    assert "applied" not in row.data


def test_an_allow_all_firewall_is_drift_and_the_firewall_job_applies_the_rules(
    sim, deployed, owner
):
    SecurityGroup.objects.create(provision=deployed, name="web", rules=[WEB])
    row = without_a_record(deployed)
    allow_all(sim, deployed)
    record_applied_rules()
    defaults = default_rules(vpc_range(sim, deployed.tag))
    wanted = {**defaults, "inbound_rules": [*defaults["inbound_rules"], WEB]}

    [report] = drift.check_all(drift.TokenBudget())
    (finding,) = report.findings
    assert finding.startswith(f"Firewall {deployed.tag} rules changed outside the portal: ")
    assert "added inbound tcp all from 0.0.0.0/0, ::/0" in finding
    assert not deployed.jobs.filter(kind=JobKind.FIREWALL).exists()

    job = services.start_job(deployed, JobKind.FIREWALL, owner)
    run_queued(deployed)
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS, job.error
    assert rules_of(cloud_firewall(sim, deployed.tag)) == wanted
    row.refresh_from_db()
    assert row.data["applied"] == wanted
    [report] = drift.check_all(drift.TokenBudget())
    assert report.findings == []
