"""Bad requests get a 4xx in the one error shape, never a 500, and change nothing: body
shapes, text no database stores, query parameters, pages, deleting what is in use, page sizes."""

import json

import pytest

from core.api.json import MAX_DEPTH, JSONRenderer
from core.api.pagination import MAX_LIMIT
from providers.models import Provider
from tests.factories import make_provider, provider_body
from vms.models import Image, VMTemplate

pytestmark = pytest.mark.django_db

NOT_OBJECTS = [[1], [["name", "renamed"]], "a string", 42, 4.5, True, None]


def _raw(client, method, url, text: str):
    """Send `text` as the JSON body verbatim (the test client would re-encode a Python value)."""
    return getattr(client, method)(url, data=text, content_type="application/json")


def _snapshot(provider) -> dict:
    return Provider.objects.filter(pk=provider.pk).values().get()


def _assert_error(response, status: int, text: str = "") -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert isinstance(data["detail"], str) and text in data["detail"]
    return data


@pytest.mark.parametrize("value", NOT_OBJECTS)
def test_provider_body_that_is_not_an_object_is_a_400_and_creates_nothing(api, value):
    before = Provider.objects.count()
    data = _assert_error(
        _raw(api, "post", "/api/providers/", json.dumps(value)), 400, "must be a JSON object"
    )
    assert "non_field_errors" in data["errors"]
    assert Provider.objects.count() == before


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("value", NOT_OBJECTS)
def test_provider_update_that_is_not_an_object_changes_nothing(api, owner, method, value):
    provider = make_provider(owner, name="mine")
    before = _snapshot(provider)
    response = _raw(api, method, f"/api/providers/{provider.pk}/", json.dumps(value))
    _assert_error(response, 400, "must be a JSON object")
    assert _snapshot(provider) == before  # a list of pairs is no longer a rename


@pytest.mark.parametrize(
    "connection", ["ams3", 7, ["ams3"], {"region": {"slug": "ams3"}}, {"region": ["ams3"]}]
)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_connection_or_region_of_the_wrong_type_is_a_400(api, owner, method, connection):
    provider = make_provider(owner, name="mine")
    before, count = _snapshot(provider), Provider.objects.count()
    url = "/api/providers/" if method == "post" else f"/api/providers/{provider.pk}/"
    document = provider_body("dop_v1_" + "x" * 20, name="other", connection=connection)
    _assert_error(getattr(api, method)(url, document, format="json"), 400, "connection")
    assert _snapshot(provider) == before and Provider.objects.count() == count


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("patch", "", [1]),
        ("patch", "", {"name": ["not", "text"]}),
        ("put", "", "nonsense"),
        ("put", "yaml/", {"yaml": 5}),
        ("put", "yaml/", [1]),
        ("delete", "", None),
    ],
)
def test_a_user_changing_a_shared_provider_gets_403_whatever_the_body(api, method, suffix, data):
    shared = Provider.objects.filter(owner=None).first()
    before = _snapshot(shared)
    url = f"/api/providers/{shared.pk}/{suffix}"
    response = _raw(api, method, url, json.dumps(data)) if data is not None else api.delete(url)
    _assert_error(response, 403, "only an operator can change it")
    assert _snapshot(shared) == before


def test_form_and_multipart_bodies_are_415_and_create_nothing(api, do_token):
    before = Provider.objects.count()
    for format in ("multipart", None):
        data = {"name": "form", "provider": "digitalocean"}
        if format:
            response = api.post("/api/providers/", data, format=format)
        else:
            response = api.post(
                "/api/providers/", "name=form", content_type="application/x-www-form-urlencoded"
            )
        _assert_error(response, 415, "Unsupported media type")
    assert Provider.objects.count() == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"name": "x\\ud800", "provider": "digitalocean"}', "lone surrogate"),
        ('{"\\udfff": 1}', "lone surrogate"),
        ('{"name": "x\\u0000y"}', "NUL"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ],
)
def test_text_no_database_stores_is_refused_before_any_view(api, text, problem):
    before = Provider.objects.count()
    _assert_error(_raw(api, "post", "/api/providers/", text), 400, problem)
    _assert_error(_raw(api, "put", "/api/account/ssh-key/", text), 400, problem)
    assert Provider.objects.count() == before


def test_a_surrogate_pair_is_text_like_any_other(api):
    response = _raw(api, "post", "/api/providers/", '{"name": "emoji \\ud83d\\ude00"}')
    assert response.status_code == 400
    assert "surrogate" not in response.json()["detail"]  # refused for other reasons only


def test_a_body_larger_than_the_upload_limit_is_refused(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    text = json.dumps({"description": "x" * 2000})
    _assert_error(_raw(api, "post", "/api/providers/", text), 400, "larger than 1000 bytes")


def test_a_lone_surrogate_in_an_imported_yaml_key_is_a_400_that_renders(api):
    before = Provider.objects.count()
    text = 'name: edge\n"\\ud800": 1\n'  # the YAML escape, not the JSON one: ASCII on the wire
    response = api.post("/api/providers/import/", {"yaml": text}, format="json")
    _assert_error(response, 400)
    assert Provider.objects.count() == before


def test_the_renderer_escapes_what_utf8_cannot_carry():
    rendered = JSONRenderer().render({"detail": "bad key '\ud800'"})
    assert json.loads(rendered.decode("ascii")) == {"detail": "bad key '\ud800'"}
    assert JSONRenderer().render({"detail": "é"}).decode() == '{"detail":"é"}'


@pytest.mark.parametrize("query", ["job=abc", "job=²", "job=0", "job=" + "9" * 30, "after=x1"])
def test_provision_log_with_a_bad_number_is_a_400(api, cluster, query):
    response = api.get(f"/api/provisions/{cluster.pk}/log/?{query}")
    _assert_error(response, 400, "must be a whole number")


def test_provision_log_of_another_users_provision_is_404_before_its_parameters(
    outsider_api, cluster
):
    _assert_error(outsider_api.get(f"/api/provisions/{cluster.pk}/log/?job=abc"), 404)


@pytest.mark.parametrize("port", ["abc", "²", "0", "70000"])
def test_port_forward_with_a_bad_port_is_a_400(api, template, owner, port):
    from vms import services

    vm = services.instantiate(owner, "Alpine", name="web", nics=["dc-public"])
    response = api.get(f"/api/vms/{vm.pk}/port-forward/", {"port": port})
    _assert_error(response, 400, "port: must be a whole number from 1 to 65535")


@pytest.mark.parametrize("provider", ["abc", "²", "1.5", "9" * 30])
def test_new_provision_page_with_a_provider_that_is_no_id_is_404(owner_client, provider):
    assert owner_client.get("/provisions/new/", {"provider": provider}).status_code == 404


def test_deleting_an_image_in_use_is_a_400_naming_its_users(api, template):
    response = api.delete(f"/api/images/{template.image_id}/")
    _assert_error(response, 400, "still in use by vm template Alpine; delete those first")
    assert Image.objects.filter(pk=template.image_id).exists()
    assert VMTemplate.objects.filter(pk=template.pk).exists()


def test_an_image_no_longer_in_use_is_deleted(api, template):
    assert api.delete(f"/api/templates/{template.pk}/").status_code == 204
    assert api.delete(f"/api/images/{template.image_id}/").status_code == 204
    assert not Image.objects.filter(pk=template.image_id).exists()


@pytest.mark.parametrize(
    "url", ["/api/providers/", "/api/marketplaceapps/", "/api/marketplaces/", "/api/templates/"]
)
def test_a_huge_limit_or_offset_on_a_non_empty_list_is_served(api, template, url):
    huge = "9" * 30
    page = api.get(url, {"limit": huge})
    assert page.status_code == 200 and page.json()["count"] > 0
    assert len(page.json()["results"]) == min(page.json()["count"], MAX_LIMIT)
    beyond = api.get(url, {"offset": huge, "limit": huge})
    assert beyond.status_code == 200 and beyond.json()["results"] == []


def test_an_api_url_no_route_matches_is_a_json_404(api):
    for url in ("/api/nothing-here/", "/api/vms/null/monitoring/", "/api/providers/1/nope/"):
        _assert_error(api.get(url), 404, "Not found")
    assert "text/html" in api.get("/no-such-page/")["Content-Type"]


@pytest.mark.parametrize("ref", ["²", "٣x", "9" * 30])
def test_an_id_or_name_that_is_neither_is_not_found(api, cluster, ref):
    before = cluster.networks.count()
    response = api.post("/api/networks/", {"provision": ref, "name": "extra"}, format="json")
    assert response.status_code in (400, 404)
    assert "not found" in response.json()["detail"]
    assert cluster.networks.count() == before


# str.isdigit() accepts '²', which int() refuses: the services resolve references with
# core.lookup.is_id.
def test_a_provision_for_a_provider_ref_that_is_no_id_is_a_400(api, cluster):
    response = api.post("/api/provisions/", {"name": "edge2", "provider": "²"}, format="json")
    _assert_error(response, 400, "not found")


def test_an_export_to_a_datastore_ref_that_is_no_id_is_a_400(api, cluster, app):
    response = api.post(
        f"/api/marketplaceapps/{app.pk}/export/", {"name": "A2", "datastore": "²"}, format="json"
    )
    _assert_error(response, 400, "not found")


def test_a_crash_under_api_is_still_a_json_error_the_cli_can_print(api, monkeypatch):
    from vms.api.views import ImageViewSet

    def crash(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ImageViewSet, "list", crash)
    api.raise_request_exception = False
    response = api.get("/api/images/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "its log has the details" in response.json()["detail"]
