"""The charts in a real browser (Debian's chromium driven by Playwright; skipped without it):
uPlot draws the VM page's and the provision page's series fetched with the page's session, the
latest values fill in, and a new sample shows at the next refresh. No lab needed."""

import pytest

from tests.browser import logged_in_page
from tests.monitoring.conftest import host_samples, vm_samples

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, owner, client, settings):
    settings.MONITOR_INTERVAL = 1.0  # the charts refresh at most every 5 s
    with logged_in_page(live_server, client, owner) as page:
        yield page


@pytest.fixture
def vm(owner, template, settings):
    from vms import services as vm_services

    settings.JOBS_SYNC = False
    return vm_services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])


def test_vm_page_draws_live_charts(page, live_server, vm):
    from playwright.sync_api import expect

    vm_samples(vm, [(5.0, 20.0, 0, 0), (12.5, 24.3, 3000, 600), (40.0, 30.0, 9000, 900)])
    page.goto(f"{live_server.url}/vms/{vm.pk}/")
    card = page.locator("#vm-monitoring")
    expect(card.locator(".uplot")).to_have_count(4)  # CPU, memory, disk, network
    expect(card.locator("canvas")).to_have_count(4)
    expect(card.locator("[data-latest=cpu_percent]")).to_have_text("40.0 %")
    expect(card.locator("[data-latest=memory_mb]")).to_have_text("30.0 MiB")
    # A new sample arrives: the next refresh (every 5 s here) shows it without a reload.
    vm_samples(vm, [(77.0, 31.0, 12000, 1000)])
    expect(card.locator("[data-latest=cpu_percent]")).to_have_text("77.0 %", timeout=15_000)
    assert page.errors == []


def test_provision_page_draws_small_charts_per_host(page, live_server, cluster):
    from playwright.sync_api import expect

    hosts = list(cluster.hosts.all())
    host_samples(hosts[0], 5)
    page.goto(f"{live_server.url}/provisions/{cluster.pk}/")
    first = page.locator(f"#host-{hosts[0].pk}")
    expect(first.locator(".sparkline canvas")).to_have_count(2)
    expect(first.locator("[data-latest=cpu_percent]")).to_have_text("24.0 %")
    # The other host has no samples yet: it says so rather than drawing nothing.
    expect(page.locator(f"#host-{hosts[1].pk} .sparkline").first).to_contain_text("no samples")
    assert page.errors == []
