"""Repair and monitoring on the provision's faces: the API action, the page's drift banner
with its confirmation step, host rows (state, problem, charts, VMs running), the serializer's
new fields, and a detail page whose query count does not grow with hosts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.states import JobState
from provisions.choices import HostProblem, HostState, JobKind
from provisions.models import Host, Job, Provision

pytestmark = pytest.mark.django_db

DRIFT = "dc-host-1: droplet deleted outside the portal (droplet 12)"


@pytest.fixture
def drifted(cluster):
    Provision.objects.filter(pk=cluster.pk).update(drift=[DRIFT])
    cluster.hosts.filter(name="dc-host-1").update(
        state=HostState.ERROR,
        problem=HostProblem.DROPLET_GONE,
        last_error="droplet deleted outside the portal",
        failed_probes=2,
    )
    cluster.refresh_from_db()
    return cluster


def repair_jobs(provision):
    return Job.objects.filter(provision=provision, kind=JobKind.REPAIR)


# API


def test_repair_api_with_nothing_to_repair_is_400_with_the_reason(api, cluster):
    response = api.post(f"/api/provisions/{cluster.pk}/repair/")
    assert response.status_code == 400
    assert "dc has nothing to repair" in response.json()["detail"]
    assert not repair_jobs(cluster).exists()


def test_repair_api_with_drift_queues_a_repair_job(api, drifted):
    response = api.post(f"/api/provisions/{drifted.pk}/repair/")
    assert response.status_code == 202
    data = response.json()
    assert data["job"]["kind"] == "repair" and data["job"]["state"] == JobState.QUEUED
    assert data["drift"] == [DRIFT]
    assert repair_jobs(drifted).get().created_by.username == "alice"


def test_repair_api_for_a_host_in_error_without_drift(api, cluster):
    cluster.hosts.filter(name="dc-host-0").update(
        state=HostState.ERROR, problem=HostProblem.UNREACHABLE
    )
    assert api.post(f"/api/provisions/{cluster.pk}/repair/").status_code == 202
    assert repair_jobs(cluster).count() == 1


def test_repair_api_refuses_while_a_job_runs(api, drifted):
    assert api.post(f"/api/provisions/{drifted.pk}/repair/").status_code == 202
    response = api.post(f"/api/provisions/{drifted.pk}/repair/")
    assert response.status_code == 400 and "already has a job running" in response.json()["detail"]


def test_outsider_gets_404_for_foreign_repair(outsider_api, drifted):
    assert outsider_api.post(f"/api/provisions/{drifted.pk}/repair/").status_code == 404
    assert not repair_jobs(drifted).exists()


def test_provision_api_shows_drift_and_host_monitoring_fields(api, drifted):
    data = api.get(f"/api/provisions/{drifted.pk}/").json()
    assert data["drift"] == [DRIFT] and "drift_checked_at" in data
    hosts = {h["name"]: h for h in data["host_list"]}
    assert hosts["dc-host-1"]["problem"] == "droplet_gone"
    assert hosts["dc-host-1"]["failed_probes"] == 2
    assert hosts["dc-host-0"]["problem"] == "" and hosts["dc-host-0"]["monitored_at"] is None
    assert hosts["dc-host-0"]["vms_running"] == 0


# Pages


def test_provision_page_shows_the_drift_banner_with_a_repair_form(owner_client, drifted):
    html = owner_client.get(f"/provisions/{drifted.pk}/").content.decode()
    assert 'id="drift"' in html and DRIFT in html
    assert f'action="/provisions/{drifted.pk}/repair/"' in html
    banner = html[html.index('id="drift"') : html.index("</section>", html.index('id="drift"'))]
    assert "csrfmiddlewaretoken" in banner and "<button>Repair</button>" in banner


def test_provision_page_without_drift_has_no_banner(owner_client, cluster):
    html = owner_client.get(f"/provisions/{cluster.pk}/").content.decode()
    assert 'id="drift"' not in html and "/repair/" not in html


def test_repair_button_asks_for_confirmation_before_queueing(owner_client, drifted):
    url = f"/provisions/{drifted.pk}/repair/"
    review = owner_client.post(url)
    assert review.status_code == 200 and not repair_jobs(drifted).exists()
    html = review.content.decode()
    assert DRIFT in html and 'name="confirm" value="1"' in html and "Yes, repair dc" in html
    assert owner_client.get(url).content.decode().count('name="confirm"') == 1
    done = owner_client.post(url, {"confirm": "1"}, follow=True)
    assert done.redirect_chain[-1][0] == f"/provisions/{drifted.pk}/"
    assert "Repairing dc" in done.content.decode()
    assert repair_jobs(drifted).get().state == JobState.QUEUED


def test_repair_with_nothing_to_repair_says_so_and_queues_nothing(owner_client, cluster):
    url = f"/provisions/{cluster.pk}/repair/"
    assert "Nothing to repair" in owner_client.get(url).content.decode()
    done = owner_client.post(url, {"confirm": "1"}, follow=True)
    assert "nothing to repair" in done.content.decode()
    assert not repair_jobs(cluster).exists()


def test_outsider_gets_404_for_the_repair_page(outsider_client, drifted):
    url = f"/provisions/{drifted.pk}/repair/"
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, {"confirm": "1"}).status_code == 404
    assert not repair_jobs(drifted).exists()


def test_host_rows_show_state_problem_charts_and_vms_running(
    owner, owner_client, drifted, template
):
    from vms import services as vm_services
    from vms.models import VM

    vm = vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    VM.objects.filter(pk=vm.pk).update(state="RUNNING")
    html = owner_client.get(f"/provisions/{drifted.pk}/").content.decode()
    broken = drifted.hosts.get(name="dc-host-1")
    row = html[html.index(f'id="host-{broken.pk}"') :].split("</tr>")[0]
    assert '<span class="badge red">ERROR</span>' in row
    assert "droplet deleted outside the portal" in row
    assert f'data-series-url="/api/hosts/{broken.pk}/monitoring/"' in row
    assert 'data-chart="host-cpu"' in row and 'data-chart="host-memory"' in row
    rows = {
        h.pk: html[html.index(f'id="host-{h.pk}"') :].split("</tr>")[0] for h in drifted.hosts.all()
    }
    running = [r.split('class="vms-running">')[1].split("<")[0] for r in rows.values()]
    assert sorted(running) == ["0", "1"]
    assert "/static/vendor/uplot-1.6.32/uPlot.iife.min.js" in html
    assert "/static/js/monitoring-charts.js" in html


def _detail_queries(client, provision):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/provisions/{provision.pk}/")
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_provision_detail_page_query_count_does_not_grow_with_hosts(owner_client, drifted):
    few, _ = _detail_queries(owner_client, drifted)
    Host.objects.bulk_create(
        Host(provision=drifted, name=f"dc-host-{i}", state=HostState.ERROR, problem="unreachable")
        for i in range(2, 30)
    )
    many, html = _detail_queries(owner_client, drifted)
    assert html.count('data-chart="host-cpu"') == 30
    # 17: the security groups section adds two (the VPC range of the default rules, the groups),
    # the cost card two (the droplets metered this month, the VMs and their hosts).
    assert many == few <= 17


def test_provision_detail_api_query_count_does_not_grow_with_hosts(api, drifted):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/provisions/{drifted.pk}/").status_code == 200
        return len(captured)

    count()  # the token's first use writes its last_used_at
    few = count()
    Host.objects.bulk_create(Host(provision=drifted, name=f"dc-host-{i}") for i in range(2, 30))
    assert count() == few
