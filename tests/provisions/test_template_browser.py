"""A provision from a template in a real browser (Debian's chromium driven by Playwright;
skipped without it), against a live portal, no lab: the template uploaded, the provider chosen,
the form built from the template's and the provider's inputs filled in (a select from the
provider's list input among them), a bad value refused with nothing created, then the provision
created with the values chosen. Its deploy job stays queued: the test is about the form."""

import pytest

from provisions.models import Provision
from tests.browser import logged_in_page
from tests.factories import INPUTS_TEMPLATE, inputs_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, owner, client, settings):
    settings.JOBS_SYNC = False  # queued, never run: no droplet behind the test
    with logged_in_page(live_server, client, owner) as page:
        yield page


def test_create_a_provision_from_the_inputs_built_form(page, live_server, owner):
    from playwright.sync_api import expect

    # The template names provider "inputs"; the user chooses another of theirs, whose inputs
    # then make the form (its size list is not the first provider's).
    inputs_provider(owner)
    chosen = inputs_provider(
        owner,
        name="edge-ams",
        inputs=[
            {
                "name": "digitalocean_size",
                "type": "list",
                "description": "Droplet size",
                "options": ["s-1vcpu-2gb", "s-2vcpu-4gb", "c-2"],
                "default": "s-1vcpu-2gb",
            },
            {"name": "digitalocean_image", "type": "list", "options": ["debian-12-x64"]},
            {"name": "hosts_per_site", "type": "number", "min_value": 1, "max_value": 3},
        ],
    )
    page.goto(live_server.url + "/provisions/new/template/")
    page.set_input_files(
        "#template_file",
        files=[
            {"name": "provision.yaml", "mimeType": "text/yaml", "buffer": INPUTS_TEMPLATE.encode()}
        ],
    )
    page.select_option("select[name=provider]", value=str(chosen.pk))
    page.click("button:has-text('Next: inputs')")

    expect(page.locator("#template-provider")).to_have_text("edge-ams")
    provider_inputs = page.locator("#provider-inputs")
    size = provider_inputs.locator("select[name=input_digitalocean_size]")
    expect(size.locator("option")).to_have_text(["s-1vcpu-2gb", "s-2vcpu-4gb", "c-2"])
    expect(size).to_have_value("s-1vcpu-2gb")
    expect(provider_inputs.locator("select[name=input_digitalocean_image]")).to_have_value(
        "debian-12-x64"
    )
    hosts = provider_inputs.locator("input[name=input_hosts_per_site]")
    expect(hosts).to_have_attribute("max", "3")
    expect(page.locator("#template-inputs input[name=input_site]")).to_have_value("ams")

    page.fill("#template-inputs input[name=input_site]", "lon")
    size.select_option("c-2")
    # A range the template's checks refuse (the browser's own checks cannot know it).
    page.fill("#template-inputs input[name=input_backend]", "8.8.8.0/24")
    hosts.fill("2")
    page.click("button:has-text('Create provision')")
    expect(page.locator("#template-errors")).to_contain_text("is not a private IPv4 range")
    assert not Provision.objects.exists()

    # The form comes back with the values given; mend the range and create.
    expect(page.locator("select[name=input_digitalocean_size]")).to_have_value("c-2")
    page.fill("#template-inputs input[name=input_backend]", "10.200.9.0/24")
    page.click("button:has-text('Create provision')")

    expect(page.locator(".messages")).to_contain_text("Provision edge-lon created")
    expect(page.locator("h1")).to_contain_text("edge-lon")
    info = page.locator("#template-info")
    expect(info).to_contain_text("c-2 droplets, image debian-12-x64")
    expect(info.locator("[data-input=digitalocean_size]")).to_have_text("digitalocean_size=c-2")
    expect(info.locator("[data-input=hosts_per_site]")).to_have_text("hosts_per_site=2")
    provision = Provision.objects.get()
    assert (provision.provider, provision.size, provision.image, provision.hosts.count()) == (
        chosen,
        "c-2",
        "debian-12-x64",
        2,
    )
    assert provision.networks.get(name="back-lon").address_range == "10.200.9.0/24"
    assert page.errors == []
