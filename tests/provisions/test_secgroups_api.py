"""/api/secgroups/: owner-only, bad rules are a 400 that changes nothing, every change starts
a firewall job."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.states import JobState
from provisions.choices import JobKind, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup

WEB = {"protocol": "tcp", "ports": "8080", "sources": ["203.0.113.0/24"]}


@pytest.fixture
def dc(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    return cluster


def firewall_jobs():
    return Job.objects.filter(kind=JobKind.FIREWALL)


def create(api, dc, **body):
    return api.post(
        "/api/secgroups/",
        {"provision": dc.name, "name": "web", "rules": [WEB], **body},
        format="json",
    )


@pytest.mark.django_db
def test_it_creates_a_group_and_queues_a_firewall_job(api, dc):
    answer = create(api, dc, description="the web tier")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["name"] == "web"
    assert body["provision_id"] == dc.pk
    assert body["rules"] == [WEB]
    assert firewall_jobs().get().state == JobState.QUEUED
    assert api.get(f"/api/secgroups/{body['id']}/").json()["rules"] == [WEB]


@pytest.mark.django_db
def test_a_bad_cidr_is_a_400_that_changes_nothing(api, dc):
    answer = create(api, dc, rules=[{**WEB, "sources": ["10.0.0.0/33"]}])
    assert answer.status_code == 400
    assert "rule 1: source '10.0.0.0/33' is not a CIDR" in answer.json()["detail"]
    assert not SecurityGroup.objects.exists()
    assert not firewall_jobs().exists()


@pytest.mark.django_db
def test_a_port_out_of_range_on_update_is_a_400_that_changes_nothing(api, dc):
    group = create(api, dc).json()
    firewall_jobs().update(state=JobState.SUCCESS)
    answer = api.patch(
        f"/api/secgroups/{group['id']}/", {"rules": [{**WEB, "ports": "65536"}]}, format="json"
    )
    assert answer.status_code == 400
    assert "port 65536 is out of range" in answer.json()["detail"]
    assert api.get(f"/api/secgroups/{group['id']}/").json()["rules"] == [WEB]
    assert firewall_jobs().count() == 1


@pytest.mark.django_db
def test_a_deny_on_ssh_is_a_400(api, dc):
    answer = create(api, dc, rules=[{**WEB, "ports": "22", "action": "deny"}])
    assert answer.status_code == 400
    assert "would cut the portal's own SSH to the hosts" in answer.json()["detail"]


@pytest.mark.django_db
def test_update_replaces_the_rules_and_delete_queues_a_job(api, dc):
    group = create(api, dc).json()
    firewall_jobs().update(state=JobState.SUCCESS)
    opened = {"protocol": "udp", "ports": "5000-5010", "sources": ["::/0"]}
    answer = api.patch(f"/api/secgroups/{group['id']}/", {"rules": [opened]}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["rules"] == [opened]
    firewall_jobs().update(state=JobState.SUCCESS)
    answer = api.delete(f"/api/secgroups/{group['id']}/")
    assert answer.status_code == 202
    assert answer.json()["kind"] == JobKind.FIREWALL
    assert not SecurityGroup.objects.exists()


@pytest.mark.django_db
def test_reconcile_queues_a_firewall_job(api, dc):
    answer = api.post("/api/secgroups/reconcile/", {"provision": dc.pk}, format="json")
    assert answer.status_code == 202
    assert answer.json()["kind"] == JobKind.FIREWALL


@pytest.mark.django_db
def test_outsider_gets_404_for_a_foreign_group(api, outsider_api, dc):
    group = create(api, dc).json()
    firewall_jobs().update(state=JobState.SUCCESS)
    url = f"/api/secgroups/{group['id']}/"
    assert outsider_api.get(url).status_code == 404
    assert outsider_api.patch(url, {"rules": []}, format="json").status_code == 404
    assert outsider_api.delete(url).status_code == 404
    assert outsider_api.get("/api/secgroups/").json()["count"] == 0
    # A provision named in a body is looked up like any reference (core.lookup.find): a
    # foreign one is "not found", exactly as one that does not exist.
    refused = create(outsider_api, dc, name="evil")
    assert refused.status_code == 400
    assert refused.json()["detail"] == create(outsider_api, dc, provision="nope").json()[
        "detail"
    ].replace("'nope'", f"'{dc.name}'")
    reconcile = outsider_api.post("/api/secgroups/reconcile/", {"provision": dc.pk}, format="json")
    assert reconcile.status_code == 400
    assert "not found" in reconcile.json()["detail"]
    assert list(SecurityGroup.objects.values_list("name", flat=True)) == ["web"]
    assert firewall_jobs().filter(state=JobState.QUEUED).count() == 0


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_at_1_and_50_groups(api, dc):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/secgroups/?limit=100").status_code == 200
        return len(queries)

    SecurityGroup.objects.create(provision=dc, name="g0", rules=[])
    list_queries()  # the token's first use is recorded once
    one = list_queries()
    SecurityGroup.objects.bulk_create(
        SecurityGroup(provision=dc, name=f"g{i}", rules=[]) for i in range(1, 50)
    )
    assert list_queries() == one


@pytest.mark.django_db
def test_the_schema_documents_security_groups(api):
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/secgroups/" in schema["paths"]
    assert "/api/secgroups/reconcile/" in schema["paths"]
    rule = schema["components"]["schemas"]["Rule"]
    assert set(rule["properties"]) == {"protocol", "ports", "sources"}
