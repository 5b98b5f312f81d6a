"""The self-service pages in a real browser (Debian's chromium driven by Playwright), against a
live portal, the simulator and the lab: provider from YAML, provision wizard, marketplace
export, instantiate, the VM page with its forwarded ports, terminate, delete."""

import pytest

from marketplace import sync
from marketplace.models import Marketplace
from tests.browser import lab_page
from tests.lab.conftest import require_lab
from tests.providers.samples import CORRECTED_YAML
from vms.models import VM

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(lab_world):
    require_lab()
    with lab_page(timeout_ms=60_000) as page:
        yield page


def test_self_service_flow_in_a_browser(page, lab_world, live_server, owner):
    from playwright.sync_api import expect

    base = live_server.url
    page.goto(base + "/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.goto(base + "/providers/import/")
    page.fill("textarea[name=yaml]", CORRECTED_YAML.format(token="lab-token"))
    # Not "text=...": that also matches the hint's "oneprovider create provider.yaml".
    page.click("button:has-text('Create provider')")
    expect(page.locator("h1")).to_contain_text("digitalocean-nyc3")
    page.click("text=Test connection")
    expect(page.locator("#test-result")).to_contain_text("Connected")
    assert "lab-token" not in page.content()

    page.click("nav >> text=Provisions")
    page.click("text=New provision")
    option = page.locator("select[name=provider] option", has_text="digitalocean-nyc3")
    page.select_option("select[name=provider]", value=option.get_attribute("value"))
    page.click("button:has-text('Next')")
    page.fill("input[name=name]", "web-cluster")
    page.click("button:has-text('Review')")
    expect(page.locator("h1")).to_contain_text("step 3 of 3")
    page.click("button:has-text('Create provision')")
    expect(page.locator("#provision-state")).to_have_text("RUNNING")

    sync.sync(Marketplace.objects.get(name="Edge Lab"))  # the operator's part
    page.click("nav >> text=Marketplace")
    # htmx is a deferred script: typing before the page's load event is an input event
    # nobody listens to yet, and the rows never update.
    page.wait_for_url("**/marketplace/", wait_until="load")
    page.fill("input[name=q]", lab_world["image"].name)  # the lab's own, e.g. Alpine Linux 3.23
    # The search updates the rows through htmx: wait for them before clicking the first.
    expect(page.locator("#app-rows a")).to_have_text([lab_world["image"].name])
    page.locator("#app-rows a").first.click()
    page.fill("input[name=name]", "Alpine")
    page.click("button:has-text('Export')")
    expect(page.locator(".messages")).to_contain_text("VMTEMPLATE ID")

    page.click("text=Instantiate")
    page.fill("input[name=name]", "alpine_web")
    page.click("button:has-text('Instantiate')")
    expect(page.locator("#vm-live .badge").first).to_have_text("RUNNING")
    expect(page.locator("#vm-live")).to_contain_text("9001:9100")
    expect(page.locator("#vm-live")).to_contain_text("1-100/9001")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Terminate')")
    expect(page.locator("#vm-live .badge").first).to_have_text("DONE")
    assert VM.objects.get(name="alpine_web").state == "DONE"

    page.click("nav >> text=Provisions")
    page.click("text=web-cluster")
    page.click("a:has-text('Delete')")
    page.click("text=Yes, delete web-cluster")
    expect(page.locator("#provision-state")).to_have_text("DONE")
