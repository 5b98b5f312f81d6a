"""Hostile and careless provider files: refused quickly, with the place named, nothing stored."""

import time

import pytest

from providers import yaml_format
from providers.models import Provider
from providers.yaml_format import ProviderYAMLError
from tests.providers.samples import CORRECTED_YAML, assert_change_refused

GOOD = CORRECTED_YAML.format(token="dop_v1_secret_value_1234")

# A billion-laughs bomb: each level doubles nine times, so `plain.image` expands to 9**9 strings.
ALIAS_BOMB = (
    "name: bomb\nprovider: digitalocean\nconnection: {token: dop_v1_x, region: ams3}\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "plain:\n  image: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def test_alias_bomb_is_refused_in_well_under_a_second_and_names_the_line(api):
    started = time.perf_counter()
    response = api.post("/api/providers/import/", {"yaml": ALIAS_BOMB}, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "line 4" in detail and "anchors and aliases" in detail, detail
    assert not Provider.objects.filter(name="bomb").exists()
    # Not a timing assertion on the portal's speed: expanding the bomb at all takes minutes (a
    # loader that expands aliases spends 8-10 s before it gives up); anything below that proves
    # it was never expanded.
    assert elapsed < 5


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace("name: 'digitalocean-nyc3'", "name: &n 'digitalocean-nyc3'"),
        GOOD + "description: *x\n",
    ],
    ids=["anchor", "alias"],
)
def test_any_anchor_or_alias_is_refused(text):
    with pytest.raises(ProviderYAMLError, match="anchors and aliases"):
        yaml_format.parse(text)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("region: 'ams3'", "region: {a: 1}"), "connection.region: unknown region {'a': 1}"),
        (("region: 'ams3'", "region: [ams3]"), "connection.region: unknown region ['ams3']"),
        (("provider: 'digitalocean'", "provider: [1]"), "provider: unknown provider type [1]"),
        (("name: 'digitalocean-nyc3'", "name: 12"), "name: the name must be text, not int"),
        (("name: 'digitalocean-nyc3'", 'name: "evil\\nINFO forged"'), "is not a valid name"),
        (("name: 'digitalocean-nyc3'", 'name: "abc\\u202Egpj.exe"'), "is not a valid name"),
        (("name: 'digitalocean-nyc3'", 'name: "a\\0b"'), "is not a valid name"),
        (("token: 'dop_v1_secret_value_1234'", "token: 1234"), "connection.token: must be text"),
        (("token: 'dop_v1_secret_value_1234'", "token: 'a b'"), "not a DigitalOcean token"),
        (("connection:", "connection: 5\nx:"), "connection: required, a mapping"),
        (("plain:", "plain: [1]\nx:"), "plain: a mapping"),
        (("image: 'DIGITALOCEAN'", "image: {x: 1}"), "plain.image: must be text, not dict"),
        (("image: 'DIGITALOCEAN'", "image: '" + "x" * 65 + "'"), "plain.image: at most 64"),
        (("type: 'list'", "type: [list]"), "inputs[0].type: ['list'] is not one of"),
        (("- name: 'digitalocean_droplet'", "- name: 'a b'"), "inputs[0].name: 'a b' is not"),
        (("type: 'list'", "type: 'list'\n  description: [1]"), "inputs[0].description: must be"),
        (("type: 'list'", "type: 'list'\n  min_value: 'x'"), "inputs[0].min_value: must be a"),
        (("- 'centos-8-x64'", "- {a: 1}"), "inputs[0].options[0]: must be text"),
        (("- 'centos-8-x64'", '- "a\\u202Eb"'), "inputs[0].options[0]: '\\u202e' is not"),
    ],
)
def test_every_field_is_type_checked(change, expected):
    assert_change_refused(GOOD, change, expected)


def test_description_keeps_line_breaks_but_not_control_characters():
    ok = yaml_format.parse(GOOD.replace("plain:", 'description: "one\\ntwo"\nplain:'))
    assert ok["description"] == "one\ntwo"
    with pytest.raises(ProviderYAMLError) as caught:
        yaml_format.parse(GOOD.replace("plain:", 'description: "\\e[2J"\nplain:'))
    assert caught.value.messages[0].startswith("description: '\\x1b' is not allowed")


def test_number_inputs_keep_their_bounds_consistent():
    number = "- name: 'hosts'\n  type: 'number'\n  min_value: 5\n  max_value: 1\n  default: 9\n"
    with pytest.raises(ProviderYAMLError) as caught:
        yaml_format.parse(GOOD.replace("inputs:\n", "inputs:\n" + number))
    messages = " | ".join(caught.value.messages)
    assert "min_value 5 is above max_value 1" in messages


def test_lone_surrogate_in_a_key_is_reported_printably(api):
    text = GOOD + '"\\uD800x": 1\n'
    response = api.post("/api/providers/import/", {"yaml": text}, format="json")
    assert response.status_code == 400
    assert "unknown key(s) '\\ud800x'" in response.json()["detail"]
    assert not Provider.objects.filter(name="digitalocean-nyc3").exists()


def test_lone_surrogate_in_the_text_itself_is_refused():
    with pytest.raises(ProviderYAMLError, match="lone surrogate at character 3"):
        yaml_format.load("ab\ud800")


def test_stored_json_is_bounded():
    options = "".join(f"  - '{'o' * 120}{n:03}'\n" for n in range(100))
    inputs = "".join(
        f"- name: 'in{n}'\n  type: 'list'\n  description: '{'d' * 250}'\n  options:\n{options}"
        for n in range(2)
    )
    text = GOOD.replace("inputs:\n", "inputs:\n" + inputs)
    with pytest.raises(ProviderYAMLError, match="bytes once stored; at most 16384"):
        yaml_format.parse(text)
