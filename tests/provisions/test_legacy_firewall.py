"""Provisions deployed before security groups: a firewall whose ledger row has no record of the
rules applied, allow-all as the earliest deploys left it. The drift check finds it and, for a
RUNNING provision, starts the firewall job once, which puts the defaults and the groups' rules
and records them; a provision in ERROR is only reported (Repair applies them)."""

import pytest
import requests

from jobs.states import JobState
from monitoring import drift, firewall_upgrade
from provisions import services
from provisions.choices import JobKind, ProvisionState, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup
from tests.provisions.test_deploy_simulator import run_queued
from tests.provisions.test_firewall_rules import cloud_firewall, expected, vpc_range

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


def rules_of(firewall):
    return {k: firewall[k] for k in ("inbound_rules", "outbound_rules")}


def as_deployed_before_security_groups(sim, provision):
    """The firewall allows everything and the ledger does not say what the portal applied."""
    row = CloudResource.objects.get(provision=provision, kind=ResourceKind.FIREWALL)
    row.data = {k: v for k, v in row.data.items() if k != "applied"}
    row.save()
    firewall = cloud_firewall(sim, provision.tag)
    answer = requests.put(
        f"{sim.url}/v2/firewalls/{firewall['id']}",
        json={"name": firewall["name"], "tags": firewall["tags"], **ALLOW_ALL},
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return row


def upgrade_jobs(provision):
    return provision.jobs.filter(kind=JobKind.FIREWALL, options__change=firewall_upgrade.CHANGE)


def test_an_allow_all_firewall_gets_the_defaults_and_groups_once(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="old"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    SecurityGroup.objects.create(provision=provision, name="web", rules=[WEB])
    row = as_deployed_before_security_groups(sim, provision)
    defaults = expected(vpc_range(sim, provision.tag))
    wanted = {**defaults, "inbound_rules": [*defaults["inbound_rules"], WEB]}

    [report] = drift.check_all(drift.TokenBudget())
    job = upgrade_jobs(provision).get()
    assert job.state == JobState.QUEUED and job.created_by is None
    (finding,) = report.findings
    assert finding.startswith(
        f"Firewall {provision.tag} has rules from before the portal's least-privilege defaults "
        "(needed: added inbound tcp 179 from "
    )
    assert "removed inbound tcp all from 0.0.0.0/0, ::/0" in finding
    assert finding.endswith(f"; firewall job #{job.pk} started to apply the portal's rules")

    run_queued(provision)
    job.refresh_from_db()
    assert job.state == JobState.SUCCESS, job.error
    assert rules_of(cloud_firewall(sim, provision.tag)) == wanted
    log = list(job.lines.values_list("message", flat=True))
    assert any("has rules from before the portal recorded them" in line for line in log), log
    assert not any("changed outside the portal" in line for line in log), log
    row.refresh_from_db()
    assert row.data["applied"] == wanted

    # Recorded now: the next check finds nothing and starts nothing.
    [report] = drift.check_all(drift.TokenBudget())
    assert report.findings == []
    assert upgrade_jobs(provision).count() == 1
    provision.refresh_from_db()
    assert provision.drift == [] and provision.state == ProvisionState.RUNNING


def test_a_firewall_that_already_holds_the_rules_is_only_recorded(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="old"))
    row = CloudResource.objects.get(provision=provision, kind=ResourceKind.FIREWALL)
    applied = row.data.pop("applied")
    row.save()
    [report] = drift.check_all(drift.TokenBudget())
    assert report.findings == [] and not upgrade_jobs(provision).exists()
    row.refresh_from_db()
    assert row.data["applied"] == applied


def test_a_provision_in_error_is_reported_and_a_failed_upgrade_not_retried(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="old"))
    as_deployed_before_security_groups(sim, provision)
    type(provision).objects.filter(pk=provision.pk).update(state=ProvisionState.ERROR)
    [report] = drift.check_all(drift.TokenBudget())
    assert report.findings[0].endswith("; Repair applies the portal's rules")
    assert not upgrade_jobs(provision).exists()

    type(provision).objects.filter(pk=provision.pk).update(state=ProvisionState.RUNNING)
    Job.objects.create(
        provision=provision,
        kind=JobKind.FIREWALL,
        state=JobState.FAILED,
        error="DigitalOcean said no",
        options={"change": firewall_upgrade.CHANGE},
    )
    [report] = drift.check_all(drift.TokenBudget())
    assert "failed to apply the portal's rules: DigitalOcean said no" in report.findings[0]
    assert upgrade_jobs(provision).count() == 1
