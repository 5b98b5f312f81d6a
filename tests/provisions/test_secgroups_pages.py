"""The provision page's security groups: defaults shown and kept, a rule added through the
form, a rule or a whole group removed only after confirmation; another user's provision is a
404."""

import pytest
from django.urls import reverse

from jobs.states import JobState
from provisions.choices import JobKind, ResourceKind
from provisions.models import CloudResource, Job, SecurityGroup

pytestmark = pytest.mark.django_db

WEB = {"protocol": "tcp", "ports": "8080", "sources": {"addresses": ["203.0.113.0/24"]}}


@pytest.fixture
def dc(cluster):
    CloudResource.objects.create(
        provision=cluster, kind=ResourceKind.VPC, name=cluster.tag, data={"ip_range": "10.9.0.0/20"}
    )
    return cluster


def firewall_jobs():
    return Job.objects.filter(kind=JobKind.FIREWALL)


def test_the_page_shows_the_defaults_and_the_groups_rules(owner_client, dc):
    group = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    page = owner_client.get(reverse("provisions:detail", args=[dc.pk])).content.decode()
    assert "Security groups" in page
    assert '<td>default</td><td>tcp</td><td class="mono">22</td>' in page
    assert "10.9.0.0/20" in page  # BGP and VXLAN from the VPC only
    assert '<td>web</td><td>tcp</td><td class="mono">8080</td>' in page
    assert reverse("provisions:secgroup-rule-remove", args=[dc.pk, group.pk, 0]) in page


def test_adding_a_rule_makes_the_group_and_starts_a_firewall_job(owner_client, dc):
    url = reverse("provisions:secgroup-rule-add", args=[dc.pk])
    body = {"group": "web", "protocol": "tcp", "ports": "8080", "sources": "203.0.113.0/24"}
    response = owner_client.post(url, body)
    assert response.status_code == 302
    assert SecurityGroup.objects.get().rules == [WEB]
    assert firewall_jobs().get().state == JobState.QUEUED


def test_a_bad_rule_on_the_page_is_an_error_message_and_nothing_changes(owner_client, dc):
    url = reverse("provisions:secgroup-rule-add", args=[dc.pk])
    body = {"group": "web", "protocol": "tcp", "ports": "8080", "sources": "10.0.0.0/99"}
    page = owner_client.post(url, body, follow=True).content.decode()
    assert "rule 1: source &#x27;10.0.0.0/99&#x27; is not a CIDR" in page
    assert not SecurityGroup.objects.exists()
    assert not firewall_jobs().exists()


def test_removing_a_rule_asks_first_then_removes_it(owner_client, dc):
    group = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    url = reverse("provisions:secgroup-rule-remove", args=[dc.pk, group.pk, 0])
    page = owner_client.get(url).content.decode()
    assert "Remove a rule from security group web" in page
    assert 'name="confirm" value="1"' in page
    owner_client.post(url)  # no confirmation: the question again, nothing removed
    group.refresh_from_db()
    assert group.rules == [WEB]
    assert owner_client.post(url, {"confirm": "1"}).status_code == 302
    group.refresh_from_db()
    assert group.rules == []
    assert firewall_jobs().get().options == {"change": "security group web updated"}


def test_outsider_gets_404_for_foreign_security_group_pages(outsider_client, dc):
    group = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    add = reverse("provisions:secgroup-rule-add", args=[dc.pk])
    remove = reverse("provisions:secgroup-rule-remove", args=[dc.pk, group.pk, 0])
    assert outsider_client.post(add, {"group": "evil", "sources": "0.0.0.0/0"}).status_code == 404
    assert outsider_client.get(remove).status_code == 404
    assert outsider_client.post(remove, {"confirm": "1"}).status_code == 404
    group.refresh_from_db()
    assert group.rules == [WEB]
    assert list(SecurityGroup.objects.values_list("name", flat=True)) == ["web"]


def test_deleting_a_group_asks_first_then_deletes_it_and_starts_a_firewall_job(owner_client, dc):
    web = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    kept = SecurityGroup.objects.create(provision=dc, name="ops", rules=[])
    detail = owner_client.get(reverse("provisions:detail", args=[dc.pk])).content.decode()
    url = reverse("provisions:secgroup-delete", args=[dc.pk, web.pk])
    assert url in detail and "Delete web" in detail
    page = owner_client.get(url).content.decode()
    assert "Delete security group web" in page
    assert '<td>tcp</td><td class="mono">8080</td><td class="mono">203.0.113.0/24</td>' in page
    assert 'name="confirm" value="1"' in page
    owner_client.post(url)  # no confirmation: the question again, nothing deleted
    assert SecurityGroup.objects.filter(pk=web.pk).exists()
    assert not firewall_jobs().exists()
    response = owner_client.post(url, {"confirm": "1"}, follow=True)
    assert "Security group web deleted; updating the firewall." in response.content.decode()
    assert list(SecurityGroup.objects.values_list("pk", flat=True)) == [kept.pk]
    assert firewall_jobs().get().options == {"change": "security group web deleted"}


def test_a_group_is_not_deleted_while_a_job_runs(owner_client, dc):
    web = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    Job.objects.create(provision=dc, kind=JobKind.FIREWALL, state=JobState.RUNNING)
    url = reverse("provisions:secgroup-delete", args=[dc.pk, web.pk])
    page = owner_client.post(url, {"confirm": "1"}, follow=True).content.decode()
    assert "already has a job running" in page
    assert SecurityGroup.objects.filter(pk=web.pk).exists()


def test_outsider_cannot_delete_a_foreign_group(outsider_client, dc):
    web = SecurityGroup.objects.create(provision=dc, name="web", rules=[WEB])
    url = reverse("provisions:secgroup-delete", args=[dc.pk, web.pk])
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, {"confirm": "1"}).status_code == 404
    assert SecurityGroup.objects.filter(pk=web.pk).exists()
