import pytest
from django.core.exceptions import ValidationError

from jobs.states import JobState
from provisions import services
from provisions.choices import ProvisionState
from provisions.models import Provision
from tests.factories import make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(owner):
    return make_provider(owner, name="do")


def test_create_makes_the_document_objects_and_queues_a_deploy(api, provider):
    response = api.post(
        "/api/provisions/",
        {"name": "digitalocean-cluster", "provider": "do", "hosts": 2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["state"] == ProvisionState.PENDING
    assert (data["clusters"], data["hosts"], data["networks"], data["datastores"]) == (1, 2, 2, 2)
    assert [n["name"] for n in data["network_list"]] == [
        "digitalocean-cluster-public",
        "digitalocean-cluster-private",
    ]
    assert [d["name"] for d in data["datastore_list"]] == [
        "digitalocean-cluster-image",
        "digitalocean-cluster-system",
    ]
    assert data["job"]["kind"] == "deploy" and data["job"]["state"] == JobState.QUEUED
    provision = Provision.objects.get(pk=data["id"])
    assert provision.events.get().to_state == "PENDING"
    assert "PRIVATE KEY" in provision.private_key()
    assert "PRIVATE KEY" not in response.content.decode()
    assert (
        provision.ssh_private_key_encrypted and "PRIVATE" not in provision.ssh_private_key_encrypted
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "x;rm -rf /", "provider": "do"}, "is not a valid provision name"),
        ({"name": "$(reboot)", "provider": "do"}, "is not a valid provision name"),
        ({"name": "ok", "provider": "nope"}, "provider 'nope' not found"),
        ({"name": "ok", "provider": "do", "hosts": 0}, "number of hosts must be 1 to 64"),
        ({"name": "ok", "provider": "do", "hosts": 100000}, "number of hosts must be 1 to 64"),
        ({"name": "ok", "provider": "do", "size": "s-1vcpu-2gb; ls"}, "not a DigitalOcean size"),
    ],
)
def test_bad_input_is_400_and_creates_nothing(api, provider, payload, message):
    response = api.post("/api/provisions/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Provision.objects.exists()


def test_provider_without_token_is_refused(api):
    response = api.post(
        "/api/provisions/", {"name": "ok", "provider": "digitalocean-london"}, format="json"
    )
    assert response.status_code == 400
    assert "has no DigitalOcean token" in response.json()["detail"]


def test_size_must_be_offered_by_the_provider(api, owner):
    provider = make_provider(owner, name="limited")
    provider.inputs = [{"name": "digitalocean_size", "type": "list", "options": ["s-1vcpu-1gb"]}]
    provider.save()
    response = api.post(
        "/api/provisions/",
        {"name": "ok", "provider": "limited", "size": "s-8vcpu-16gb"},
        format="json",
    )
    assert response.status_code == 400
    assert "is not offered by provider limited" in response.json()["detail"]


def test_foreign_provider_is_not_found(outsider_api, provider):
    response = outsider_api.post(
        "/api/provisions/", {"name": "ok", "provider": provider.pk}, format="json"
    )
    assert response.status_code == 400
    assert f"provider '{provider.pk}' not found" in response.json()["detail"]


def test_duplicate_live_name_is_refused(owner, provider):
    services.create_provision(owner, provider=provider, name="edge")
    with pytest.raises(ValidationError, match="already have a provision named"):
        services.create_provision(owner, provider=provider, name="edge")


def test_outsider_gets_404(outsider_api, outsider_client, owner, provider):
    provision = services.create_provision(owner, provider=provider, name="edge")
    for method, url in [
        ("get", ""),
        ("delete", ""),
        ("post", "retry/"),
        ("get", "log/"),
        ("get", "hosts/"),
        ("post", "hosts/"),
    ]:
        response = getattr(outsider_api, method)(f"/api/provisions/{provision.pk}/{url}")
        assert response.status_code == 404, (method, url)
    for url in ["", "live/", "delete/"]:
        assert outsider_client.get(f"/provisions/{provision.pk}/{url}").status_code == 404
    for url in ["retry/", "delete/", "hosts/add/"]:
        assert outsider_client.post(f"/provisions/{provision.pk}/{url}").status_code == 404
    provision.refresh_from_db()
    assert provision.state == ProvisionState.PENDING
    assert provision.jobs.count() == 1


@pytest.mark.parametrize("count", [1, 50])
def test_list_query_counts_are_constant(
    api, owner_client, owner, provider, count, django_assert_max_num_queries
):
    for index in range(count):
        services.create_provision(owner, provider=provider, name=f"edge{index}")
    with django_assert_max_num_queries(5):
        response = api.get("/api/provisions/")
    assert response.json()["count"] == count
    with django_assert_max_num_queries(6):
        page = owner_client.get("/provisions/")
    assert page.content.decode().count("badge grey") >= count


def test_wizard_review_then_create(owner_client, provider):
    step1 = owner_client.get("/provisions/new/")
    assert provider.name in step1.content.decode()
    step2 = owner_client.get(f"/provisions/new/?provider={provider.pk}")
    assert step2.status_code == 200
    data = {
        "provider": provider.pk,
        "name": "wiz",
        "hosts": 2,
        "size": "s-1vcpu-2gb",
        "image": "ubuntu-22-04-x64",
    }
    review = owner_client.post("/provisions/new/", data)
    assert b"step 3 of 3" in review.content
    assert not Provision.objects.exists()
    created = owner_client.post("/provisions/new/", {**data, "confirm": "1"})
    provision = Provision.objects.get(name="wiz")
    assert created.status_code == 302 and created["Location"] == f"/provisions/{provision.pk}/"
    assert provision.host_count == 2


def test_live_fragment_stops_polling_when_terminal(owner_client, owner, provider):
    provision = services.create_provision(owner, provider=provider, name="edge")
    response = owner_client.get(f"/provisions/{provision.pk}/live/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'hx-trigger="every 2s"' in response.content
    provision.jobs.update(state=JobState.FAILED)
    Provision.objects.filter(pk=provision.pk).update(state=ProvisionState.ERROR)
    response = owner_client.get(f"/provisions/{provision.pk}/live/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286
