"""The security group admin goes through the service: the API's checks, a firewall job."""

import json

import pytest
from django.urls import reverse

from jobs.states import JobState
from provisions.choices import JobKind, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup

pytestmark = pytest.mark.django_db

WEB = {"protocol": "tcp", "ports": "8080", "sources": ["203.0.113.0/24"]}


@pytest.fixture
def dc(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    return cluster


def add(client, dc, rules):
    return client.post(
        reverse("admin:provisions_securitygroup_add"),
        {"provision": dc.pk, "name": "web", "description": "", "rules": json.dumps(rules)},
    )


def test_an_operator_adds_a_group_and_a_firewall_job_starts(operator_client, dc):
    response = add(operator_client, dc, [WEB])
    assert response.status_code == 302
    group = SecurityGroup.objects.get()
    assert group.rules == [
        {"protocol": "tcp", "ports": "8080", "sources": {"addresses": ["203.0.113.0/24"]}}
    ]
    assert Job.objects.get(kind=JobKind.FIREWALL).state == JobState.QUEUED


def test_a_bad_rule_is_shown_on_the_form_and_nothing_is_saved(operator_client, dc):
    response = add(operator_client, dc, [{**WEB, "ports": "99999"}])
    assert response.status_code == 200
    assert "rule 1: port 99999 is out of range (1-65535)" in response.content.decode()
    assert not SecurityGroup.objects.exists()
    assert not Job.objects.filter(kind=JobKind.FIREWALL).exists()


def test_deleting_in_the_admin_starts_a_firewall_job(operator_client, dc):
    group = SecurityGroup.objects.create(provision=dc, name="web", rules=[])
    response = operator_client.post(
        reverse("admin:provisions_securitygroup_delete", args=[group.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not SecurityGroup.objects.exists()
    assert Job.objects.get(kind=JobKind.FIREWALL).options == {
        "change": "security group web deleted"
    }
