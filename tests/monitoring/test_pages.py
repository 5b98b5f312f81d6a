"""The VM page's Monitoring card (charts, latest values) and state history; the vendored
chart library and its code."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.choices import EventSource
from core.transitions import transition
from tests.monitoring.conftest import MIB, vm_samples

pytestmark = pytest.mark.django_db

UPLOT = "vendor/uplot-1.6.32"


def test_vm_page_has_the_monitoring_card_with_latest_values(owner_client, vm):
    vm_samples(vm, [(5.0, 20.0, 1000, 100), (12.5, 24.3, int(1.2 * MIB), 4096)])
    html = owner_client.get(f"/vms/{vm.pk}/").content.decode()
    card = html[html.index('id="vm-monitoring"') :].split("</section>")[0]
    url = f"/api/vms/{vm.pk}/monitoring/"
    for chart in ("vm-cpu", "vm-memory", "vm-network"):
        assert f'data-series-url="{url}" data-chart="{chart}"' in card
    assert "12.5 %" in card and "24.3M" in card
    assert "1.2M" in card and "4.0K" in card
    assert f'href="{url}"' in card  # the data behind the charts, reachable without script
    assert f"/static/{UPLOT}/uPlot.iife.min.js" in html
    assert f"/static/{UPLOT}/uPlot.min.css" in html


def test_vm_page_before_any_sample_says_so(owner_client, vm):
    card = owner_client.get(f"/vms/{vm.pk}/").content.decode().split('id="vm-monitoring"')[1]
    assert "none yet" in card.split("</section>")[0]


def test_vm_page_lists_the_state_history_newest_first(owner_client, vm):
    transition(
        vm, "UNKNOWN", {"RUNNING"}, source=EventSource.MONITOR, reason="container one-1 gone"
    )
    transition(vm, "RUNNING", {"UNKNOWN"}, source=EventSource.MONITOR, reason="back")
    html = owner_client.get(f"/vms/{vm.pk}/").content.decode()
    history = html.split("<h2>State history</h2>")[1]
    assert history.index("back") < history.index("container one-1 gone")
    assert "<td>monitor</td><td>RUNNING</td><td>UNKNOWN</td>" in history.replace("\n", "")


def test_vm_page_query_count_does_not_grow_with_samples_or_events(owner_client, vm):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(f"/vms/{vm.pk}/").status_code == 200
        return len(captured)

    vm_samples(vm, [(1, 20, 0, 0)])
    few = count()
    vm_samples(vm, [(1, 20, i, i) for i in range(100)])
    for _ in range(10):
        transition(vm, "POWEROFF", {"RUNNING"}, source=EventSource.MONITOR)
        transition(vm, "RUNNING", {"POWEROFF"}, source=EventSource.USER)
    assert count() == few


def test_outsider_gets_404_for_the_vm_page(outsider_client, vm):
    assert outsider_client.get(f"/vms/{vm.pk}/").status_code == 404


def test_uplot_is_vendored_with_its_licence_and_the_charts_use_no_cdn():
    static = Path(django_settings.BASE_DIR) / "static"
    vendored = static / UPLOT
    assert {p.name for p in vendored.iterdir()} == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    assert "MIT License" in (vendored / "LICENSE").read_text()
    code = (static / "js" / "monitoring-charts.js").read_text()
    assert "data-series-url" in code and "same-origin" in code
    assert "http://" not in code and "https://" not in code
