"""The provider's inputs joined with a provision template's (as OpenNebula merges them and
FireEdge builds its form from both): referred to as `${input.NAME}`, or giving the hosts' size
and image when the template sets none; validated as the template's are; only those a template
uses are asked for; a provision keeps its template, which `show --yaml` writes back."""

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import Provider
from provisions import networks, services, template_format
from provisions.models import Host, Provision
from provisions.template_format import TemplateError
from tests.factories import INPUTS_TEMPLATE, PROVIDER_INPUTS, inputs_provider

URL = "/provisions/new/template/"


@pytest.fixture
def provider(owner):
    return inputs_provider(owner)


@pytest.fixture
def queued(settings):
    settings.JOBS_SYNC = False


def _errors(text, **kwargs) -> list[str]:
    with pytest.raises(TemplateError) as raised:
        template_format.parse(text, **kwargs)
    return raised.value.messages


# The format: which of the provider's inputs count, and what their values do.


def test_the_providers_inputs_give_size_image_and_what_the_template_refers_to():
    template = template_format.parse(INPUTS_TEMPLATE, provider_inputs=PROVIDER_INPUTS)
    assert (template.name, template.hosts, template.size, template.image) == (
        "edge-ams",
        1,
        "s-1vcpu-2gb",
        "ubuntu-22-04-x64",
    )
    names = [spec["name"] for spec in template.definition["inputs"]]
    assert names == ["site", "backend", "digitalocean_size", "digitalocean_image", "hosts_per_site"]
    chosen = template_format.parse(
        INPUTS_TEMPLATE,
        provider_inputs=PROVIDER_INPUTS,
        user_inputs={
            "digitalocean_size": "s-4vcpu-8gb",
            "digitalocean_image": "debian-12-x64",
            "hosts_per_site": "3",
        },
    )
    assert (chosen.hosts, chosen.size, chosen.image) == (3, "s-4vcpu-8gb", "debian-12-x64")
    assert chosen.sources == {
        "size": "input digitalocean_size",
        "image": "input digitalocean_image",
    }


def test_the_documents_droplet_list_gives_the_image():
    # The document's provider YAML: `digitalocean_droplet`, a list input with one option.
    document = [{"name": "digitalocean_droplet", "type": "list", "options": ["centos-8-x64"]}]
    text = INPUTS_TEMPLATE.replace("${input.hosts_per_site}", "1")
    template = template_format.parse(text, provider_inputs=document)
    assert (template.image, template.size) == ("centos-8-x64", None)
    assert template.inputs["digitalocean_droplet"] == "centos-8-x64"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"digitalocean_size": "huge"},
            "input digitalocean_size: 'huge' is not one of s-1vcpu-2gb, s-2vcpu-4gb, s-4vcpu-8gb",
        ),
        ({"hosts_per_site": "5"}, "input hosts_per_site: 5 is outside 1..4"),
        ({"hosts_per_site": "1.5"}, "input hosts_per_site: '1.5' is not a whole number"),
        (
            {"unused_note": "y"},
            "user input 'unused_note': the provider's input is not used by this template (the "
            "template neither refers to it nor needs it)",
        ),
    ],
)
def test_bad_values_for_the_providers_inputs_say_what_is_allowed(inputs, message):
    errors = _errors(INPUTS_TEMPLATE, provider_inputs=PROVIDER_INPUTS, user_inputs=inputs)
    assert any(message in line for line in errors), errors


def test_a_template_that_sets_the_size_does_not_ask_for_the_providers():
    text = INPUTS_TEMPLATE.replace("hosts:\n", "hosts:\n  size: s-2vcpu-4gb\n")
    inputs = template_format.form_inputs(text, provider_inputs=PROVIDER_INPUTS)
    assert [s["name"] for s in inputs.provider] == ["digitalocean_image", "hosts_per_site"]
    errors = _errors(text, provider_inputs=PROVIDER_INPUTS, user_inputs={"digitalocean_size": "x"})
    assert "not used by this template (hosts.size is set)" in errors[0]


def test_the_templates_own_input_wins_over_the_providers_of_that_name():
    own = (
        "  - {name: digitalocean_size, type: list, options: [s-2vcpu-4gb], default: s-2vcpu-4gb}\n"
    )
    text = INPUTS_TEMPLATE.replace("inputs:\n", "inputs:\n" + own)
    template = template_format.parse(text, provider_inputs=PROVIDER_INPUTS)
    assert template.size == "s-2vcpu-4gb"
    errors = _errors(
        text, provider_inputs=PROVIDER_INPUTS, user_inputs={"digitalocean_size": "s-1vcpu-2gb"}
    )
    assert "input digitalocean_size: 's-1vcpu-2gb' is not one of s-2vcpu-4gb" in errors[0]


def test_a_provider_input_a_template_cannot_use_is_refused_when_referred_to():
    inputs = PROVIDER_INPUTS + [{"name": "tags", "type": "array", "default": "a,b"}]
    text = INPUTS_TEMPLATE.replace(
        "name: edge-${input.site}", "name: edge-${input.site}-${input.tags}"
    )
    errors = _errors(text, provider_inputs=inputs)
    assert errors == [
        "provider input tags: type 'array' cannot be used in a provision template "
        "(${input.tags} in the template); usable types: text, number, number-float, range, "
        "range-float, list, boolean"
    ]
    # Not referred to, it is not asked for and does no harm.
    assert template_format.parse(INPUTS_TEMPLATE, provider_inputs=inputs).name == "edge-ams"


def test_a_reference_to_no_input_of_either_is_named():
    text = INPUTS_TEMPLATE.replace("${input.hosts_per_site}", "${input.hosts}")
    errors = _errors(text, provider_inputs=PROVIDER_INPUTS)
    assert errors[0].startswith(
        "hosts.count: ${input.hosts} is not an input of the template or of its provider; inputs:"
    )


# Services and API: the provider found first (per tenant), its inputs then used.


def test_create_keeps_the_template_with_the_values_used(owner, provider, queued):
    provision = services.create_from_template(
        owner, INPUTS_TEMPLATE, user_inputs={"digitalocean_size": "s-2vcpu-4gb", "site": "lon"}
    )
    assert (provision.name, provision.size, provision.image) == (
        "edge-lon",
        "s-2vcpu-4gb",
        "ubuntu-22-04-x64",
    )
    assert provision.description == "Web edge cluster.\nBack end on a private network.\n"
    assert provision.input_values == {
        "site": "lon",
        "backend": "10.200.1.0/24",
        "digitalocean_size": "s-2vcpu-4gb",
        "digitalocean_image": "ubuntu-22-04-x64",
        "hosts_per_site": 1,
    }
    assert provision.template["hosts"] == {"count": "${input.hosts_per_site}"}


def test_a_size_the_provider_does_not_offer_names_the_field_and_creates_nothing(
    owner, provider, queued
):
    text = INPUTS_TEMPLATE.replace("hosts:\n", "hosts:\n  size: s-8vcpu-16gb\n")
    with pytest.raises(TemplateError) as raised:
        services.create_from_template(owner, text)
    assert raised.value.messages == [
        "hosts.size: 's-8vcpu-16gb' is not offered by provider inputs; choose one of "
        "s-1vcpu-2gb, s-2vcpu-4gb, s-4vcpu-8gb"
    ]
    assert not Provision.objects.exists()


def test_another_tenants_provider_is_not_found(owner, outsider, queued):
    inputs_provider(outsider)
    with pytest.raises(TemplateError) as raised:
        services.create_from_template(owner, INPUTS_TEMPLATE)
    assert raised.value.messages == [
        "provider: 'inputs' not found among your providers and the shared ones; give one of "
        "them by ID or name (`--provider`, or choose one on the page)"
    ]
    assert not Provision.objects.exists()


def test_api_validate_and_create_use_the_providers_inputs(api, provider, queued):
    body = {"template": INPUTS_TEMPLATE, "user_inputs": {"digitalocean_image": "debian-12-x64"}}
    resolved = api.post("/api/provisions/validate-template/", body, format="json")
    assert resolved.status_code == 200, resolved.json()
    assert (resolved.json()["image"], resolved.json()["size"]) == ("debian-12-x64", "s-1vcpu-2gb")
    assert not Provision.objects.exists()
    bad = {"template": INPUTS_TEMPLATE, "user_inputs": {"digitalocean_image": "windows"}}
    response = api.post("/api/provisions/from-template/", bad, format="json")
    assert response.status_code == 400
    assert "input digitalocean_image: 'windows' is not one of" in str(response.json())
    assert not Provision.objects.exists()
    created = api.post("/api/provisions/from-template/", body, format="json")
    assert created.status_code == 201, created.json()
    assert Provision.objects.get().image == "debian-12-x64"
    assert created.json()["description"].startswith("Web edge cluster.")
    assert created.json()["inputs"]["digitalocean_image"] == "debian-12-x64"


# The page: one form from both, checked, nothing created on bad input.


def test_page_builds_the_form_from_the_templates_and_the_providers_inputs(owner_client, provider):
    page = owner_client.post(URL, {"template": INPUTS_TEMPLATE}).content.decode()
    assert 'id="template-provider">inputs<' in page
    template_part, provider_part = page.split('id="provider-inputs"')
    assert 'name="input_site" value="ams"' in template_part
    # The provider's list inputs are selects, its default chosen (the first option without one).
    assert '<select name="input_digitalocean_size"' in provider_part
    assert '<option value="s-1vcpu-2gb" selected>' in provider_part
    assert '<option value="s-4vcpu-8gb">' in provider_part
    assert '<option value="ubuntu-22-04-x64" selected>' in provider_part
    assert 'type="number" name="input_hosts_per_site" value="1" min="1" max="4"' in provider_part
    assert "digitalocean_size: gives hosts.size (the template sets none)" in provider_part
    assert "unused_note" not in page
    assert not Provision.objects.exists()


def test_page_creates_with_the_chosen_values(owner_client, provider, queued):
    response = owner_client.post(
        URL,
        {
            "step": "create",
            "template": INPUTS_TEMPLATE,
            "input_site": "lon",
            "input_backend": "10.200.7.0/24",
            "input_digitalocean_size": "s-2vcpu-4gb",
            "input_digitalocean_image": "debian-12-x64",
            "input_hosts_per_site": "2",
        },
    )
    provision = Provision.objects.get()
    assert response.status_code == 302 and response["Location"] == provision.get_absolute_url()
    assert (provision.name, provision.host_count, provision.size, provision.image) == (
        "edge-lon",
        2,
        "s-2vcpu-4gb",
        "debian-12-x64",
    )
    assert provision.networks.get(name="back-lon").address_range == "10.200.7.0/24"
    page = owner_client.get(provision.get_absolute_url()).content.decode()
    assert "Web edge cluster.<br>Back end on a private network." in page
    assert 'data-input="digitalocean_size">digitalocean_size=s-2vcpu-4gb<' in page


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"input_digitalocean_size": "s-8vcpu-16gb"}, "Select a valid choice"),
        ({"input_hosts_per_site": "9"}, "less than or equal to 4"),
        ({"input_hosts_per_site": ""}, "This field is required"),
        # Past the form (which checks text only), the template's checks: a bad range.
        ({"input_backend": "8.8.8.0/24"}, "is not a private IPv4 range"),
    ],
)
def test_page_refuses_bad_values_and_creates_nothing(
    owner_client, provider, queued, values, message
):
    post = {
        "step": "create",
        "template": INPUTS_TEMPLATE,
        "input_site": "ams",
        "input_backend": "10.200.1.0/24",
        "input_digitalocean_size": "s-1vcpu-2gb",
        "input_digitalocean_image": "ubuntu-22-04-x64",
        "input_hosts_per_site": "1",
    } | values
    response = owner_client.post(URL, post)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'name="step" value="create"' in response.content.decode()  # the form, kept
    assert not Provision.objects.exists()


def test_page_with_another_provider_uses_its_inputs(owner_client, owner, provider, outsider):
    other = inputs_provider(
        owner,
        name="other",
        inputs=[{"name": "digitalocean_size", "type": "list", "options": ["s-2vcpu-4gb"]}],
    )
    text = INPUTS_TEMPLATE.replace("${input.hosts_per_site}", "2")
    page = owner_client.post(URL, {"template": text, "provider": str(other.pk)}).content.decode()
    assert 'id="template-provider">other<' in page
    assert f'name="provider" value="{other.pk}"' in page
    assert '<option value="s-2vcpu-4gb" selected>' in page and "s-1vcpu-2gb" not in page
    # Another tenant's provider is not found, exactly as one that does not exist.
    theirs = inputs_provider(outsider, name="theirs")
    for ref in (str(theirs.pk), "999999"):
        page = owner_client.post(URL, {"template": text, "provider": ref}).content.decode()
        assert f"provider: &#x27;{ref}&#x27; not found among your providers" in page
        assert 'name="step"' not in page
    assert not Provision.objects.exists()


def test_page_queries_do_not_grow_with_providers_or_inputs(owner_client, owner, provider):
    def queries(text):
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.post(URL, {"template": text}).status_code == 200
        return len(captured)

    few = queries(INPUTS_TEMPLATE)
    for index in range(10):
        inputs_provider(owner, name=f"more-{index}")
    many_inputs = "".join(f"  - {{name: extra{i}, type: text, default: v}}\n" for i in range(20))
    assert queries(INPUTS_TEMPLATE.replace("inputs:\n", "inputs:\n" + many_inputs)) == few


# show --yaml: the template written back, pinned where the provision moved on.


def _dumped(provision) -> dict:
    return yaml.safe_load(template_format.dump(Provision.objects.get(pk=provision.pk)))


def test_dump_writes_the_template_back_with_the_values_as_defaults(owner, provider, queued):
    provision = services.create_from_template(
        owner, INPUTS_TEMPLATE, user_inputs={"site": "lon", "hosts_per_site": "2"}
    )
    data = _dumped(provision)
    assert data["name"] == "edge-${input.site}"
    assert data["description"] == "Web edge cluster.\nBack end on a private network.\n"
    assert data["provider"] == "inputs"
    defaults = {spec["name"]: spec["default"] for spec in data["inputs"]}
    assert defaults == provision.input_values
    assert data["hosts"] == {"count": "${input.hosts_per_site}"}
    assert data["networks"] == [
        {"name": "back-${input.site}", "type": "private", "address_range": "${input.backend}"}
    ]


def test_dump_pins_what_changed_since(owner, provider, queued):
    text = INPUTS_TEMPLATE.replace("    address_range: ${input.backend}\n", "")
    provision = services.create_from_template(owner, text)
    # The range was chosen at create; a host was added since.
    range_chosen = provision.networks.get(name="back-ams").address_range
    Host.objects.create(provision=provision, name="edge-ams-host-9")
    data = _dumped(provision)
    assert data["hosts"]["count"] == 2
    assert data["networks"] == [
        {"name": "back-${input.site}", "type": "private", "address_range": range_chosen}
    ]
    # A network added since: the networks are written out as they are.
    networks.new_private_network(provision, "extra", "10.220.0.0/24")
    assert [n["name"] for n in _dumped(provision)["networks"]] == ["back-ams", "extra"]


def test_dump_names_the_provider_by_id_when_its_name_finds_another(owner, provider, queued):
    provision = services.create_from_template(owner, INPUTS_TEMPLATE)
    assert _dumped(provision)["provider"] == "inputs"
    # A shared provider of the same name made earlier would be found first by that name.
    Provider.objects.filter(pk=provider.pk).update(name="digitalocean-amsterdam")
    assert _dumped(provision)["provider"] == str(provider.pk)


def test_the_example_asks_the_predefined_providers_image_list(owner_client):
    from tests.factories import EXAMPLE_TEMPLATE

    page = owner_client.post(URL, {"template": EXAMPLE_TEMPLATE.read_text()}).content.decode()
    assert 'id="template-provider">digitalocean-amsterdam<' in page
    provider_part = page.split('id="provider-inputs"')[1]
    assert '<select name="input_digitalocean_image"' in provider_part
    # Debian 12 first and chosen (the image the lab proves), Ubuntu still offered.
    assert '<option value="debian-12-x64" selected>' in provider_part
    assert '<option value="ubuntu-22-04-x64">' in provider_part
    # Its size comes from the template's own `size` input: the provider's is not asked for.
    assert "input_digitalocean_size" not in page and '<select name="input_size"' in page
    # Shared, it has no token yet: said at create, and nothing is created.
    page = owner_client.post(
        URL,
        {
            "step": "create",
            "template": EXAMPLE_TEMPLATE.read_text(),
            "input_site": "ams",
            "input_number_of_hosts": "1",
            "input_size": "s-1vcpu-2gb",
            "input_backend_range": "10.200.1.0/24",
            "input_digitalocean_image": "debian-12-x64",
        },
    ).content.decode()
    assert "provider: provider digitalocean-amsterdam has no DigitalOcean token" in page
    assert not Provision.objects.exists()
