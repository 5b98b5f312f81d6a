"""Security groups: checked rules, owner-only changes, and a firewall job that makes the
DigitalOcean firewall hold the defaults plus the groups' rules (and undoes changes made
outside the portal)."""

import re

import pytest
import requests
from django.core.exceptions import ValidationError
from django.http import Http404

from jobs.states import JobState
from monitoring import drift
from provisions import services
from provisions.choices import JobKind, ProvisionState, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup
from provisions.secgroups import rules
from provisions.secgroups import services as secgroup_services
from tests.helpers import cloud_firewall, default_rules, run_queued, vpc_range

WEB = {"protocol": "tcp", "ports": "8080", "sources": ["203.0.113.0/24"]}
WEB_API = {"protocol": "tcp", "ports": "8080", "sources": {"addresses": ["203.0.113.0/24"]}}


# -- the rules -------------------------------------------------------------------------------
def test_a_rule_is_put_in_digitaloceans_shape():
    assert rules.check_rule(WEB) == WEB_API
    assert rules.check_rule(
        {"protocol": "UDP", "ports": "8000-8100", "sources": ["2001:db8::/32", "198.51.100.7"]}
    ) == {
        "protocol": "udp",
        "ports": "8000-8100",
        "sources": {"addresses": ["2001:db8::/32", "198.51.100.7/32"]},
    }
    assert rules.check_rule({"protocol": "icmp", "sources": ["0.0.0.0/0"]})["ports"] == "0"
    assert rules.check_rule(WEB_API) == WEB_API


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({**WEB, "sources": ["10.0.0.300/8"]}, "is not a CIDR"),
        ({**WEB, "sources": ["10.0.0.1/8"]}, "has host bits set"),
        ({**WEB, "sources": []}, "a rule needs sources"),
        ({**WEB, "sources": [f"10.0.{i}.0/24" for i in range(21)]}, "at most 20 sources"),
        ({**WEB, "ports": "70000"}, "port 70000 is out of range"),
        ({**WEB, "ports": "0-80"}, "port 0 is out of range"),
        ({**WEB, "ports": "90-80"}, "runs backwards"),
        ({**WEB, "ports": "http"}, "is not a port"),
        ({**WEB, "protocol": "sctp"}, "protocol must be tcp, udp or icmp"),
        ({"protocol": "icmp", "ports": "8", "sources": ["0.0.0.0/0"]}, "ICMP rules have no ports"),
        ({**WEB, "action": "deny", "ports": "22"}, "would cut the portal's own SSH"),
        ({**WEB, "action": "deny"}, "only allow traffic"),
        ({**WEB, "direction": "outbound"}, "outbound stays open"),
        ({**WEB, "priority": 1}, "unknown rule field(s): priority"),
    ],
)
def test_a_bad_rule_says_why(rule, message):
    with pytest.raises(ValidationError, match=r"rule 2: .*" + re.escape(message)):
        rules.check_rules([WEB, rule])


def test_the_difference_names_added_and_removed_rules():
    before = {"inbound_rules": [WEB_API], "outbound_rules": []}
    after = {"inbound_rules": [{**WEB_API, "ports": "9090"}], "outbound_rules": []}
    assert rules.difference(before, after) == (
        "added inbound tcp 9090 from 203.0.113.0/24, removed inbound tcp 8080 from 203.0.113.0/24"
    )
    assert rules.difference(before, before) == "no change"


# -- the service -----------------------------------------------------------------------------
@pytest.fixture
def dc(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    return cluster


@pytest.mark.django_db
def test_a_group_adds_its_rules_after_the_defaults_and_starts_a_firewall_job(dc, owner):
    group = secgroup_services.create_group(owner, dc, name="web", rules=[WEB])
    assert group.rules == [WEB_API]
    assert rules.desired(dc).as_api() == {
        **default_rules("10.9.0.0/20"),
        "inbound_rules": [*default_rules("10.9.0.0/20")["inbound_rules"], WEB_API],
    }
    job = dc.jobs.get(kind=JobKind.FIREWALL)
    assert (job.kind, job.state, job.options) == (
        JobKind.FIREWALL,
        JobState.QUEUED,
        {"change": "security group web created"},
    )


@pytest.mark.django_db
def test_a_bad_rule_changes_nothing(dc, owner):
    group = secgroup_services.create_group(owner, dc, name="web", rules=[WEB])
    Job.objects.filter(kind=JobKind.FIREWALL).delete()
    with pytest.raises(ValidationError, match="rule 1: source 'nope' is not a CIDR"):
        secgroup_services.update_group(owner, group, rules=[{**WEB, "sources": ["nope"]}])
    group.refresh_from_db()
    assert group.rules == [WEB_API]
    assert not Job.objects.filter(kind=JobKind.FIREWALL).exists()


@pytest.mark.django_db
def test_the_default_rules_cannot_be_replaced_by_a_group(dc, owner):
    with pytest.raises(ValidationError, match="'default' is the provision's default rules"):
        secgroup_services.create_group(owner, dc, name="default", rules=[WEB])
    assert not SecurityGroup.objects.exists()


@pytest.mark.django_db
def test_too_many_rules_for_digitalocean_are_refused(dc, owner):
    rules = [{**WEB, "ports": str(1000 + i)} for i in range(42)]
    with pytest.raises(ValidationError, match="51 rules; DigitalOcean allows 50"):
        secgroup_services.create_group(owner, dc, name="many", rules=rules)
    assert not SecurityGroup.objects.exists()


@pytest.mark.django_db
def test_a_change_while_a_job_runs_is_refused_and_not_saved(dc, owner):
    secgroup_services.create_group(owner, dc, name="web", rules=[WEB])
    with pytest.raises(ValidationError, match="already has a job running"):
        secgroup_services.create_group(owner, dc, name="db", rules=[WEB])
    assert list(SecurityGroup.objects.values_list("name", flat=True)) == ["web"]


@pytest.mark.django_db
def test_only_a_running_provision_changes_its_groups(dc, owner):
    dc.__class__.objects.filter(pk=dc.pk).update(state=ProvisionState.ERROR)
    dc.refresh_from_db()
    with pytest.raises(ValidationError, match="is ERROR; security groups change on a RUNNING"):
        secgroup_services.create_group(owner, dc, name="web", rules=[WEB])


@pytest.mark.django_db
def test_an_outsider_cannot_change_or_see_a_group(dc, owner, outsider):
    group = secgroup_services.create_group(owner, dc, name="web", rules=[WEB])
    with pytest.raises(Http404):
        secgroup_services.create_group(outsider, dc, name="evil", rules=[WEB])
    with pytest.raises(Http404):
        secgroup_services.delete_group(outsider, group)
    with pytest.raises(Http404):
        secgroup_services.find_group(outsider, group.pk)
    assert secgroup_services.find_group(owner, group.pk) == group


# -- against the simulator -------------------------------------------------------------------
def rules_of(firewall):
    return {k: firewall[k] for k in ("inbound_rules", "outbound_rules")}


def job_log(provision):
    job = provision.jobs.filter(kind=JobKind.FIREWALL).first()
    assert job.state == JobState.SUCCESS, job.error
    return list(job.lines.values_list("message", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_rule_opened_then_closed_reaches_the_cloud_firewall(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    defaults = default_rules(vpc_range(sim, provision.tag))
    firewall_id = cloud_firewall(sim, provision.tag)["id"]

    group = secgroup_services.create_group(owner, provision, name="web", rules=[WEB])
    run_queued(provision)
    opened = cloud_firewall(sim, provision.tag)
    assert opened["id"] == firewall_id
    assert opened["tags"] == [provision.tag]
    assert rules_of(opened) == {
        **defaults,
        "inbound_rules": [*defaults["inbound_rules"], WEB_API],
    }
    assert f"firewall {provision.tag} updated: added inbound tcp 8080 from 203.0.113.0/24" in (
        job_log(provision)
    )
    assert provision.state == ProvisionState.RUNNING

    secgroup_services.delete_group(owner, group)
    run_queued(provision)
    assert rules_of(cloud_firewall(sim, provision.tag)) == defaults
    assert f"firewall {provision.tag} updated: removed inbound tcp 8080 from 203.0.113.0/24" in (
        job_log(provision)
    )


def tamper(sim, provision, defaults):
    """Someone opens everything and drops the SSH rule in DigitalOcean's console."""
    firewall = cloud_firewall(sim, provision.tag)
    tampered = [r for r in defaults["inbound_rules"] if r["ports"] != "22"]
    tampered.append({"protocol": "tcp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0"]}})
    answer = requests.put(
        f"{sim.url}/v2/firewalls/{firewall['id']}",
        json={
            "name": firewall["name"],
            "tags": firewall["tags"],
            "inbound_rules": tampered,
            "outbound_rules": defaults["outbound_rules"],
        },
        headers={"Authorization": "Bearer lab-token"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert rules_of(cloud_firewall(sim, provision.tag)) != defaults


TAMPERED = "added inbound tcp all from 0.0.0.0/0, removed inbound tcp 22 from 0.0.0.0/0, ::/0"


@pytest.mark.django_db(transaction=True)
def test_rules_changed_outside_the_portal_are_reported_and_restored(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    assert provision.state == ProvisionState.RUNNING, provision.error
    defaults = default_rules(vpc_range(sim, provision.tag))
    tamper(sim, provision, defaults)

    secgroup_services.reconcile(owner, provision)
    run_queued(provision)
    assert rules_of(cloud_firewall(sim, provision.tag)) == defaults
    assert f"firewall rules changed outside the portal: {TAMPERED}; restored" in job_log(provision)


@pytest.mark.django_db(transaction=True)
def test_monitoring_reports_rule_drift_and_repair_restores_the_rules(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    defaults = default_rules(vpc_range(sim, provision.tag))
    drift.check_all(drift.TokenBudget())
    provision.refresh_from_db()
    assert provision.drift == []
    tamper(sim, provision, defaults)
    drift.check_all(drift.TokenBudget())
    provision.refresh_from_db()
    assert provision.drift == [
        f"Firewall {provision.tag} rules changed outside the portal: {TAMPERED}"
    ]
    services.repair_provision(owner, provision)
    run_queued(provision)
    assert provision.state == ProvisionState.RUNNING, provision.error
    assert provision.drift == []
    assert rules_of(cloud_firewall(sim, provision.tag)) == defaults
    log = provision.jobs.filter(kind=JobKind.REPAIR).get().lines.values_list("message", flat=True)
    assert f"firewall rules changed outside the portal: {TAMPERED}; restored" in log


@pytest.mark.django_db(transaction=True)
def test_a_reconcile_with_nothing_changed_puts_nothing(
    sim, sim_provider, owner, hosts_configure_without_ssh
):
    provision = run_queued(services.create_provision(owner, provider=sim_provider, name="fw"))
    secgroup_services.reconcile(owner, provision)
    run_queued(provision)
    log = job_log(provision)
    assert f"firewall {provision.tag} already has the portal's rules" in log
    assert not any("outside the portal" in line for line in log)
