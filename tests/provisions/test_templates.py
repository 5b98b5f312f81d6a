"""Provision templates (provisions/template_format.py): inputs with defaults, ranges and
options, `${input.NAME}` references, private networks; errors that name the field or line and
what is allowed; nothing created from a bad template."""

import pytest

from provisions import services, template_format
from provisions.models import Provision
from provisions.template_format import TemplateError
from tests.factories import EXAMPLE_TEMPLATE, SIZED_TEMPLATE, sized_provider


@pytest.fixture
def do(owner):
    return sized_provider(owner)


def _errors(text, **kwargs) -> list[str]:
    with pytest.raises(TemplateError) as raised:
        template_format.parse(text, **kwargs)
    return raised.value.messages


def test_defaults_fill_the_references():
    template = template_format.parse(SIZED_TEMPLATE)
    assert (template.name, template.provider, template.hosts, template.size) == (
        "edge-ams",
        "do",
        2,
        "s-1vcpu-2gb",
    )
    assert template.networks == [{"name": "back-ams", "address_range": "10.200.1.0/24"}]
    assert template.inputs == {"site": "ams", "hosts": 2, "size": "s-1vcpu-2gb", "big": False}


def test_user_inputs_and_provider_override():
    template = template_format.parse(
        SIZED_TEMPLATE,
        provider="other",
        user_inputs={"hosts": "3", "size": "s-2vcpu-4gb", "site": "lon", "big": "yes"},
    )
    assert (template.provider, template.hosts, template.size, template.name) == (
        "other",
        3,
        "s-2vcpu-4gb",
        "edge-lon",
    )
    assert template.inputs["big"] is True


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"hosts": "9"}, "input hosts: 9 is outside 1..4"),
        ({"hosts": "two"}, "input hosts: 'two' is not a number"),
        ({"size": "huge"}, "input size: 'huge' is not one of s-1vcpu-2gb, s-2vcpu-4gb"),
        ({"big": "maybe"}, "input big: 'maybe' is not one of yes, no"),
        ({"colour": "red"}, "user input 'colour': no such input; the template's inputs: big,"),
    ],
)
def test_bad_user_inputs_say_what_is_allowed(inputs, message):
    assert any(message in line for line in _errors(SIZED_TEMPLATE, user_inputs=inputs))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nprovider: do\nhosts: {count: 2, cpu: 4}\n", "hosts: unknown key(s) cpu;"),
        ("name: x\nprovider: do\ncolour: red\n", "unknown key(s) colour; allowed: description,"),
        ("provider: do\n", "name: required"),
        ("name: x\nprovider: do\nhosts:\n  count: ${input.n}\n", "hosts.count: ${input.n} is not"),
        ("name: x\nprovider: do\nhosts: {count: 0}\n", "hosts.count: 0 is not a whole number"),
        (
            "name: x\nprovider: do\ninputs:\n  - {name: n, type: password}\n",
            "inputs[0].type: 'password' is not one of text, number, number-float, range, "
            "range-float, list, boolean",
        ),
        (
            "name: x\nprovider: do\ninputs:\n  - {name: n, type: list, options: [a], default: b}\n",
            "inputs[0].default: 'b' is not one of its options",
        ),
        (
            "name: x\nprovider: do\nnetworks:\n  - {name: n, type: public}\n",
            "networks[0].type: 'public' is not one of private",
        ),
        ("name: x\nprovider: do\n  hosts: 2\n", "line 3, column 8: unexpected indentation"),
        (
            "name: &n x\nprovider: *n\n",
            "anchors and aliases (&name, *name) are not allowed in a provision template",
        ),
    ],
)
def test_bad_templates_name_the_field_or_line(text, message):
    assert any(message in line for line in _errors(text)), _errors(text)


def test_the_example_file_is_a_valid_template():
    template = template_format.parse(EXAMPLE_TEMPLATE.read_text())
    assert (template.name, template.hosts) == ("edge-ams", 2)
    assert template.networks == [{"name": "edge-ams-backend", "address_range": "10.200.1.0/24"}]


def test_create_from_template_makes_its_hosts_and_networks(owner, do, settings):
    settings.JOBS_SYNC = False
    provision = services.create_from_template(owner, SIZED_TEMPLATE, user_inputs={"hosts": "3"})
    assert (provision.name, provision.host_count, provision.size) == ("edge-ams", 3, "s-1vcpu-2gb")
    assert sorted(provision.networks.values_list("name", "address_range")) == [
        ("back-ams", "10.200.1.0/24"),
        ("edge-ams-public", ""),
    ]


def test_api_refuses_a_bad_template_and_creates_nothing(api, do):
    response = api.post(
        "/api/provisions/from-template/",
        {"template": SIZED_TEMPLATE, "user_inputs": {"hosts": "9"}},
        format="json",
    )
    assert response.status_code == 400
    assert "input hosts: 9 is outside 1..4" in str(response.json())
    assert not Provision.objects.exists()


def test_api_validate_resolves_without_creating(api, do):
    response = api.post(
        "/api/provisions/validate-template/", {"template": SIZED_TEMPLATE}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "edge-ams" and response.json()["hosts"] == 2
    assert not Provision.objects.exists()


URL = "/provisions/new/template/"


def test_page_builds_the_form_from_the_templates_inputs(owner_client, do):
    page = owner_client.post(URL, {"template": SIZED_TEMPLATE}).content.decode()
    # list -> select with its options, the default chosen; number -> bounded field.
    assert '<select name="input_size"' in page
    assert '<option value="s-2vcpu-4gb">' in page
    assert '<option value="s-1vcpu-2gb" selected>' in page
    assert 'type="number" name="input_hosts" value="2" min="1" max="4"' in page
    assert 'type="checkbox" name="input_big"' in page
    assert not Provision.objects.exists()


def test_page_creates_from_an_uploaded_template_with_the_inputs(owner_client, do, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.JOBS_SYNC = False
    upload = SimpleUploadedFile("provision.yaml", SIZED_TEMPLATE.encode())
    page = owner_client.post(URL, {"template_file": upload}).content.decode()
    assert 'name="step" value="create"' in page
    response = owner_client.post(
        URL,
        {
            "step": "create",
            "template": SIZED_TEMPLATE,
            "input_site": "lon",
            "input_hosts": "3",
            "input_size": "s-2vcpu-4gb",
        },
    )
    provision = Provision.objects.get()
    assert response.status_code == 302 and response["Location"] == provision.get_absolute_url()
    assert (provision.name, provision.host_count, provision.size) == ("edge-lon", 3, "s-2vcpu-4gb")


def test_page_shows_a_bad_template_error_and_creates_nothing(owner_client, do):
    page = owner_client.post(URL, {"template": "name: &n x\nprovider: *n\n"}).content.decode()
    assert "anchors and aliases" in page and "line 1" in page
    page = owner_client.post(
        URL, {"step": "create", "template": SIZED_TEMPLATE, "input_hosts": "9", "input_size": "x"}
    ).content.decode()
    assert "less than or equal to 4" in page and "Select a valid choice" in page
    assert not Provision.objects.exists()
