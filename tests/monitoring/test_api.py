"""/api/vms/ID/monitoring/ and /api/hosts/ID/monitoring/: shape, tenancy, the hours bound,
session access for the pages' charts, and the OpenAPI description."""

import pytest
from rest_framework.test import APIClient

from tests.monitoring.conftest import host_samples, vm_samples

pytestmark = pytest.mark.django_db


def test_vm_monitoring_gives_parallel_series_and_the_latest_sample(api, vm, settings):
    times = vm_samples(vm, [(None, 20.0, 0, 0), (12.5, 24.3, 3000, 600)])
    response = api.get(f"/api/vms/{vm.pk}/monitoring/", {"hours": 1})
    assert response.status_code == 200
    data = response.json()
    assert data["interval"] == settings.MONITOR_INTERVAL
    assert data["at"] == [int(at.timestamp()) for at in times]
    assert data["cpu_percent"] == [None, 12.5]
    assert data["memory_mb"] == [20.0, 24.3]
    assert data["net_rx_bps"] == [None, 100.0] and data["net_tx_bps"] == [None, 20.0]
    assert data["latest"]["net_rx_bytes"] == 3000 and data["latest"]["cpu_percent"] == 12.5


def test_vm_monitoring_before_any_sample_is_empty_lists(api, vm):
    data = api.get(f"/api/vms/{vm.pk}/monitoring/").json()
    assert data["at"] == data["cpu_percent"] == data["net_rx_bps"] == []
    assert data["latest"] is None


def test_host_monitoring_gives_parallel_series(api, cluster):
    host = cluster.hosts.first()
    host_samples(host, 4, vms_running=3)
    data = api.get(f"/api/hosts/{host.pk}/monitoring/").json()
    assert set(data) == {
        "interval",
        "at",
        "cpu_percent",
        "memory_used_mb",
        "memory_total_mb",
        "load1",
        "disk_used_mb",
        "disk_total_mb",
        "vms_running",
    }
    assert {len(v) for k, v in data.items() if k != "interval"} == {4}
    assert data["vms_running"] == [3] * 4 and data["cpu_percent"][0] is None


def test_outsider_gets_404_for_foreign_vm_and_host_monitoring(outsider_api, vm, cluster):
    vm_samples(vm, [(1, 20, 0, 0)])
    host = cluster.hosts.first()
    host_samples(host, 1)
    for url in (f"/api/vms/{vm.pk}/monitoring/", f"/api/hosts/{host.pk}/monitoring/"):
        response = outsider_api.get(url)
        assert response.status_code == 404, url
        assert "cpu_percent" not in response.content.decode()


def test_unknown_ids_are_404(api, db):
    assert api.get("/api/vms/999999/monitoring/").status_code == 404
    assert api.get("/api/hosts/999999/monitoring/").status_code == 404


def test_operator_sees_every_tenants_monitoring(operator_api, vm, cluster):
    assert operator_api.get(f"/api/vms/{vm.pk}/monitoring/").status_code == 200
    assert operator_api.get(f"/api/hosts/{cluster.hosts.first().pk}/monitoring/").status_code == 200


@pytest.mark.parametrize("hours", ["0", "25", "abc", "1.5", "-3"])
def test_hours_outside_1_to_24_is_a_clear_400(api, vm, cluster, hours):
    for url in (
        f"/api/vms/{vm.pk}/monitoring/",
        f"/api/hosts/{cluster.hosts.first().pk}/monitoring/",
    ):
        response = api.get(url, {"hours": hours})
        assert response.status_code == 400
        assert response.json()["detail"] == (
            f"hours must be a whole number from 1 to 24, not '{hours}'"
        )


def test_anonymous_is_refused(vm):
    assert APIClient().get(f"/api/vms/{vm.pk}/monitoring/").status_code in (401, 403)


def test_the_pages_session_reads_the_series(owner_client, vm):
    """The charts fetch with the page's session cookie (SessionAuthentication, GET only)."""
    vm_samples(vm, [(1, 20, 0, 0)])
    response = owner_client.get(f"/api/vms/{vm.pk}/monitoring/")
    assert response.status_code == 200 and response.json()["memory_mb"] == [20]


def test_outsider_session_gets_404(outsider_client, vm):
    assert outsider_client.get(f"/api/vms/{vm.pk}/monitoring/").status_code == 404


def test_monitoring_endpoints_are_described_in_the_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, component in (
        ("/api/vms/{id}/monitoring/", "VMSeries"),
        ("/api/hosts/{id}/monitoring/", "HostSeries"),
    ):
        operation = schema["paths"][path]["get"]
        assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "429"}
        assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["hours"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(component)
    assert "repair" in str(schema["paths"]["/api/provisions/{id}/repair/"]["post"])
