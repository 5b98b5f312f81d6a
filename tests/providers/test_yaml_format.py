import pytest

from providers import yaml_format
from providers.yaml_format import ProviderYAMLError
from tests.providers.samples import CORRECTED_YAML, DOCUMENT_YAML, assert_change_refused

GOOD = CORRECTED_YAML.format(token="dop_v1_secret_value_1234")


def test_document_yaml_error_names_the_misindented_line():
    with pytest.raises(ProviderYAMLError) as caught:
        yaml_format.parse(DOCUMENT_YAML, "provider.yaml")
    message = caught.value.messages[0]
    # Line 17 is "    type: 'list'", the first line indented deeper than its item.
    assert message.startswith("provider.yaml, line 17, column 5: unexpected indentation")
    assert "two spaces in, not four" in message
    assert "type: 'list'" in message


def test_corrected_document_yaml_is_accepted():
    data = yaml_format.parse(GOOD)
    assert data["name"] == "digitalocean-nyc3"
    assert data["region"] == "ams3"
    assert data["token"] == "dop_v1_secret_value_1234"
    assert data["inputs"] == [
        {"name": "digitalocean_droplet", "type": "list", "options": ["centos-8-x64"]}
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("provider: 'digitalocean'", "provider: 'aws'"), "provider: unknown provider type 'aws'"),
        (("token: 'dop_v1_secret_value_1234'", "token: ''"), "connection.token: required"),
        (("region: 'ams3'", "region: 'mars1'"), "connection.region: unknown region 'mars1'"),
        (("type: 'list'", "type: 'colour'"), "inputs[0].type: 'colour' is not one of"),
        (
            ("options:\n  - 'centos-8-x64'", "options: []"),
            "inputs[0].options: a 'list' input needs",
        ),
        (("name: 'digitalocean-nyc3'", "name: ''"), "name: required"),
        (("plain:", "colour: blue\nplain:"), "top level: unknown key(s) colour"),
        (("token: 'dop_v1_secret_value_1234'", "token: '****1234'"), "masked token"),
    ],
)
def test_bad_content_is_named(change, expected):
    assert_change_refused(GOOD, change, expected)


def test_top_level_must_be_a_mapping():
    with pytest.raises(ProviderYAMLError, match="expected a mapping"):
        yaml_format.parse("- just\n- a list\n")


def test_oversized_yaml_is_refused():
    with pytest.raises(ProviderYAMLError, match="larger than"):
        yaml_format.parse("name: x\n" + "#" * 70000)
