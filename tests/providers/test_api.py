import pytest
from django.db import connection

from providers.models import Provider
from provisions.models import Provision
from tests.factories import make_provider, provider_body
from tests.providers.samples import CORRECTED_YAML, DOCUMENT_YAML

pytestmark = pytest.mark.django_db


def test_five_predefined_providers_exist_without_token():
    predefined = Provider.objects.filter(predefined=True, owner=None).order_by("region")
    assert [p.region for p in predefined] == ["ams3", "lon1", "nyc3", "sfo3", "sgp1"]
    assert not any(p.has_token for p in predefined)


def test_create_from_json_masks_token(api, owner, do_token):
    response = api.post("/api/providers/", provider_body(do_token), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["connection"] == {"region": "ams3", "token": "****" + do_token[-4:]}
    assert do_token not in response.content.decode()
    provider = Provider.objects.get(pk=data["id"])
    assert provider.owner == owner
    assert provider.get_token() == do_token


def test_import_document_yaml_names_the_line_and_saves_nothing(api):
    before = Provider.objects.count()
    response = api.post("/api/providers/import/", {"yaml": DOCUMENT_YAML}, format="json")
    assert response.status_code == 400
    assert "line 17" in response.json()["detail"]
    assert Provider.objects.count() == before


def test_import_corrected_yaml(api, do_token):
    response = api.post(
        "/api/providers/import/", {"yaml": CORRECTED_YAML.format(token=do_token)}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "digitalocean-nyc3"
    assert do_token not in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"provider": "gcp"}, "provider: unknown provider type 'gcp'"),
        ({"connection": {"region": "ams3"}}, "connection.token: required"),
        ({"connection": {"region": "xx9", "token": "t" * 20}}, "connection.region: unknown region"),
        ({"inputs": "nope"}, "inputs: must be a list"),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(api, overrides, message):
    before = Provider.objects.count()
    response = api.post(
        "/api/providers/", provider_body("dop_v1_x" * 4, **overrides), format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert Provider.objects.count() == before


def test_duplicate_name_is_refused(api, do_token):
    assert api.post("/api/providers/", provider_body(do_token), format="json").status_code == 201
    response = api.post("/api/providers/", provider_body(do_token), format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["detail"]


def test_update_with_masked_token_keeps_token(api, owner, do_token):
    provider = make_provider(owner, token=do_token)
    exported = api.get(f"/api/providers/{provider.pk}/yaml/").content.decode()
    assert do_token not in exported and "****" in exported
    changed = exported.replace("region: nyc3", "region: sfo3")
    response = api.put(f"/api/providers/{provider.pk}/yaml/", {"yaml": changed}, format="json")
    assert response.status_code == 200, response.json()
    provider.refresh_from_db()
    assert provider.region == "sfo3"
    assert provider.get_token() == do_token


def test_patch_changes_one_field(api, owner):
    provider = make_provider(owner)
    response = api.patch(f"/api/providers/{provider.pk}/", {"description": "new"}, format="json")
    assert response.status_code == 200, response.json()
    provider.refresh_from_db()
    assert provider.description == "new"


def test_outsider_gets_404_for_foreign_provider(outsider_api, owner):
    provider = make_provider(owner)
    for method, url in [
        ("get", f"/api/providers/{provider.pk}/"),
        ("get", f"/api/providers/{provider.pk}/yaml/"),
        ("delete", f"/api/providers/{provider.pk}/"),
        ("patch", f"/api/providers/{provider.pk}/"),
        ("post", f"/api/providers/{provider.pk}/test-connection/"),
    ]:
        assert getattr(outsider_api, method)(url).status_code == 404, (method, url)
    listed = outsider_api.get("/api/providers/").json()["results"]
    assert provider.pk not in [p["id"] for p in listed]
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_user_sees_but_cannot_change_shared_provider(api):
    shared = Provider.objects.get(name="digitalocean-amsterdam")
    assert api.get(f"/api/providers/{shared.pk}/").status_code == 200
    response = api.patch(f"/api/providers/{shared.pk}/", {"description": "x"}, format="json")
    assert response.status_code == 403
    assert "only an operator" in response.json()["detail"]


def test_operator_sets_token_on_predefined_provider(operator_api, do_token):
    shared = Provider.objects.get(name="digitalocean-london")
    response = operator_api.patch(
        f"/api/providers/{shared.pk}/",
        {"connection": {"region": "lon1", "token": do_token}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    shared.refresh_from_db()
    assert shared.get_token() == do_token
    assert shared.owner is None


def test_delete_refused_while_a_provision_uses_it(api, owner):
    provider = make_provider(owner)
    Provision.objects.create(name="edge", provider=provider, owner=owner, state="RUNNING")
    response = api.delete(f"/api/providers/{provider.pk}/")
    assert response.status_code == 400
    assert "used by provision(s) edge" in response.json()["detail"]
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_delete(api, owner):
    provider = make_provider(owner)
    assert api.delete(f"/api/providers/{provider.pk}/").status_code == 204
    assert not Provider.objects.filter(pk=provider.pk).exists()


def test_test_connection_without_token_is_clear(operator_api):
    shared = Provider.objects.get(name="digitalocean-singapore")
    response = operator_api.post(f"/api/providers/{shared.pk}/test-connection/")
    assert response.status_code == 400
    assert "has no token yet" in response.json()["detail"]


@pytest.mark.parametrize("count", [1, 50])
def test_list_query_count_is_constant(api, owner, count, django_assert_max_num_queries):
    for index in range(count):
        make_provider(owner, name=f"p{index}")
    # auth token lookup + last_used update + count + page
    with django_assert_max_num_queries(4) as captured:
        response = api.get("/api/providers/")
    assert response.status_code == 200
    assert response.json()["count"] == count + 5
    assert len(captured.captured_queries) <= 4


def test_token_absent_from_every_db_column(api, do_token):
    api.post("/api/providers/", provider_body(do_token), format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM providers_provider")
        rows = cursor.fetchall()
    assert rows
    assert all(do_token not in str(value) for row in rows for value in row)


def test_schema_and_docs_are_served(api, client, owner):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/providers/" in schema.content
    client.force_login(owner)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()
