"""The OpenAPI schema says what the API answers: every operation's errors in the one error
shape, JSON-only bodies, a nullable owner, whole lists where no page is served."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", HTTP_ACCEPT="application/json").json()


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    for label, operation in _operations(schema):
        responses = operation["responses"]
        assert {"400", "401", "403", "404", "429"} <= set(responses), label
        for code in ("400", "401", "403", "404"):
            body = responses[code]["content"]["application/json"]["schema"]
            assert body == {"$ref": ERROR_REF}, (label, code)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and set(error["properties"]) == {"detail", "errors"}


def test_bodies_are_json_only_and_may_be_refused_as_415(schema):
    with_bodies = [(label, op) for label, op in _operations(schema) if "requestBody" in op]
    assert len(with_bodies) >= 10
    for label, operation in with_bodies:
        assert list(operation["requestBody"]["content"]) == ["application/json"], label
        assert "415" in operation["responses"], label


def test_shared_providers_owner_is_nullable_and_the_region_a_choice(schema):
    provider = schema["components"]["schemas"]["Provider"]["properties"]
    assert provider["owner"]["nullable"] is True
    connection = schema["components"]["schemas"]["Connection"]["properties"]
    region = schema["components"]["schemas"][connection["region"]["$ref"].split("/")[-1]]
    assert {"ams3", "nyc3"} <= set(region["enum"])
    assert connection["token"]["type"] == "string"  # the mask: responses carry it


def test_whole_lists_are_arrays_not_pages(schema):
    for path in (
        "/api/provisions/{id}/hosts/",
        "/api/provisions/{id}/jobs/",
        "/api/provisions/{id}/log/",
        "/api/vms/{id}/log/",
    ):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["type"] == "array", path
        names = [p["name"] for p in schema["paths"][path]["get"].get("parameters", [])]
        assert not {"limit", "offset", "state"} & set(names), path
    hosts = schema["paths"]["/api/provisions/{id}/hosts/"]
    assert "202" not in hosts["get"]["responses"] and "202" in hosts["post"]["responses"]


def test_exported_yaml_and_other_answers_are_described(schema):
    export = schema["paths"]["/api/providers/{id}/yaml/"]["get"]["responses"]["200"]["content"]
    assert export["application/yaml"]["schema"]["$ref"].endswith("/ProviderDocument")
    assert "202" in schema["paths"]["/api/vms/{id}/"]["delete"]["responses"]
    assert {"409", "502"} <= set(schema["paths"]["/api/vms/{id}/exec/"]["post"]["responses"])
    port = schema["paths"]["/api/vms/{id}/port-forward/"]["get"]["responses"]["200"]
    assert port["content"]["application/json"]["schema"]["$ref"].endswith("/PortForward")


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


@pytest.mark.parametrize("header", [None, "Bearer ep_wrong", "Bearer"])
def test_unauthenticated_is_a_401_in_the_error_shape(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/providers/")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
