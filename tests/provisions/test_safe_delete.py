"""Deleting a provision: refused while its cluster has live VMs unless cleanup is asked for
(service, API, page); a forced delete (operators) only of an ERROR provision whose cloud side
is gone, proved by the delete job's verification listing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jobs.states import JobState
from provisions import services
from provisions.choices import JobKind, ProvisionState
from provisions.models import Provision
from tests.helpers import run_queued
from vms import services as vms
from vms.models import VM


@pytest.fixture(autouse=True)
def _queue_jobs_only(settings):
    # Jobs are queued, never run: no host exists behind the cluster.
    settings.JOBS_SYNC = False


@pytest.fixture
def web(owner, template):
    return vms.instantiate(owner, "Alpine", name="web", nics=["dc-public"])


def _unchanged(cluster):
    cluster.refresh_from_db()
    assert cluster.state == ProvisionState.RUNNING
    assert not cluster.jobs.filter(kind=JobKind.DELETE).exists()
    assert VM.objects.exclude(state="DONE").filter(host__provision=cluster).exists()


def test_delete_is_refused_while_a_vm_lives_and_names_it(owner, cluster, web):
    with pytest.raises(ValidationError, match=r"1 live VM\(s\): web; terminate them first"):
        services.delete_provision(owner, cluster)
    _unchanged(cluster)


def test_refusal_names_five_vms_then_how_many_more(owner, cluster, template):
    for index in range(7):
        vms.instantiate(owner, "Alpine", name=f"vm{index}", nics=["dc-public"])
    with pytest.raises(ValidationError) as refused:
        services.delete_provision(owner, cluster)
    assert "7 live VM(s): vm0, vm1, vm2, vm3, vm4 and 2 more;" in refused.value.messages[0]


def test_delete_with_cleanup_queues_the_delete_job(owner, cluster, web):
    job = services.delete_provision(owner, cluster, cleanup=True)
    assert (job.kind, job.state, job.options) == (
        JobKind.DELETE,
        JobState.QUEUED,
        {"cleanup": True},
    )


def test_a_vm_that_ended_does_not_block_the_delete(owner, cluster, web):
    VM.objects.filter(pk=web.pk).update(state="DONE")
    assert services.delete_provision(owner, cluster).kind == JobKind.DELETE


def test_api_refuses_with_live_vms_and_deletes_with_cleanup(api, cluster, web):
    response = api.delete(f"/api/provisions/{cluster.pk}/")
    assert response.status_code == 400
    assert "live VM(s): web" in response.json()["detail"]
    _unchanged(cluster)
    response = api.delete(f"/api/provisions/{cluster.pk}/?cleanup=1")
    assert response.status_code == 202
    assert cluster.jobs.filter(kind=JobKind.DELETE, options__cleanup=True).exists()


def test_schema_documents_cleanup_and_force(api):
    schema = api.get("/api/schema/?format=json").json()
    delete = schema["paths"]["/api/provisions/{id}/"]["delete"]
    assert {p["name"] for p in delete["parameters"]} >= {"cleanup", "force"}


def test_page_lists_the_vms_and_deletes_only_with_the_checkbox(owner_client, cluster, web):
    url = f"/provisions/{cluster.pk}/delete/"
    page = owner_client.get(url).content.decode()
    assert "<code>web</code>" in page and 'name="cleanup"' in page
    response = owner_client.post(url, follow=True)
    assert "live VM(s): web" in response.content.decode()
    _unchanged(cluster)
    owner_client.post(url, {"cleanup": "1"})
    assert cluster.jobs.filter(kind=JobKind.DELETE, options__cleanup=True).exists()


def test_page_without_vms_has_no_checkbox(owner_client, cluster):
    page = owner_client.get(f"/provisions/{cluster.pk}/delete/").content.decode()
    assert 'name="cleanup"' not in page


def test_force_is_for_operators(owner, api, cluster):
    Provision.objects.filter(pk=cluster.pk).update(state=ProvisionState.ERROR)
    with pytest.raises(PermissionDenied):
        services.delete_provision(owner, cluster, force=True)
    assert api.delete(f"/api/provisions/{cluster.pk}/?force=1").status_code == 403
    cluster.refresh_from_db()
    assert cluster.state == ProvisionState.ERROR


def test_force_only_from_error(operator, cluster):
    with pytest.raises(ValidationError, match="only a provision in ERROR"):
        services.delete_provision(operator, cluster, force=True)


@pytest.mark.django_db(transaction=True)
def test_forced_delete_verifies_the_cloud_is_empty_then_is_done(
    sim, sim_provider, owner, operator, operator_api, template
):
    provision = services.create_provision(owner, provider=sim_provider, name="gone")
    Provision.objects.filter(pk=provision.pk).update(state=ProvisionState.ERROR)
    provision.jobs.update(state=JobState.FAILED)
    response = operator_api.delete(f"/api/provisions/{provision.pk}/?force=1")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == ProvisionState.DONE
    job = provision.jobs.get(kind=JobKind.DELETE)
    assert job.state == JobState.SUCCESS and job.options == {"force": True}
    assert "verified nothing tagged or named" in job.lines.get().message
    assert set(provision.hosts.values_list("state", flat=True)) == {"REMOVED"}


@pytest.mark.django_db(transaction=True)
def test_forced_delete_is_refused_while_the_cloud_side_exists(
    sim, sim_provider, owner, operator, hosts_configure_without_ssh, monkeypatch
):
    provision = services.create_provision(owner, provider=sim_provider, name="still")
    run_queued(provision)
    Provision.objects.filter(pk=provision.pk).update(state=ProvisionState.ERROR)
    provision.refresh_from_db()
    with pytest.raises(ValidationError, match="still has in DigitalOcean: droplet still-host-0"):
        services.delete_provision(operator, provision, force=True)
    provision.refresh_from_db()
    assert provision.state == ProvisionState.ERROR
    assert not provision.jobs.filter(kind=JobKind.DELETE).exists()
