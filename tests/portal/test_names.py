"""One name rule for every named object: no control or bidi character gets into any name, by
any face, and a refused name stores nothing and changes nothing."""

import pytest
from django.core.exceptions import ValidationError

from marketplace import services as market
from providers.models import Provider
from provisions.models import Network
from tests.factories import make_provider, provider_body
from vms import services as vm_services
from vms.models import VM, VMTemplate

pytestmark = pytest.mark.django_db

HOSTILE = [
    "evil\n2026-12-02 INFO provider 9 (admin) deleted by oper",
    "nul\x00byte",
    "gpj.\u202eexe",
    "zero\u200bwidth",
    "tab\there",
    "",
    "   ",
    "x" * 65,
    "42",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_provider_names_follow_the_rule_in_the_api(api, do_token, name):
    before = Provider.objects.count()
    response = api.post("/api/providers/", provider_body(do_token, name=name), format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    # A NUL is refused by the API's parser, for any field, before the name rule sees it.
    assert detail.startswith("name: ") or "NUL character" in detail
    assert "\n" not in detail and "\x00" not in detail and "\u202e" not in detail
    assert Provider.objects.count() == before


@pytest.mark.parametrize("name", ["evil\nline", "gpj.\u202eexe"])
def test_provider_rename_to_a_bad_name_changes_nothing(api, owner, name):
    provider = make_provider(owner, name="mine")
    response = api.patch(f"/api/providers/{provider.pk}/", {"name": name}, format="json")
    assert response.status_code == 400
    provider.refresh_from_db()
    assert provider.name == "mine"


def test_provider_form_refuses_a_bidi_name(owner_client, do_token):
    response = owner_client.post(
        "/providers/new/", {"name": "gpj.\u202eexe", "region": "sgp1", "token": do_token}
    )
    assert response.status_code == 200
    assert "is not a valid name" in response.content.decode()
    assert not Provider.objects.filter(name__contains="gpj").exists()


@pytest.mark.parametrize("name", ["evil\nline", "gpj.\u202eexe", "9lives", "a b"])
def test_network_vm_and_template_names_follow_the_same_rule(owner, cluster, template, name):
    networks, vms, templates = (
        Network.objects.count(),
        VM.objects.count(),
        VMTemplate.objects.count(),
    )
    with pytest.raises(vm_services.ValidationError, match="is not a valid VM name"):
        vm_services.instantiate(owner, "Alpine", name=name, nics=["dc-public"])
    from provisions import services as provision_services

    with pytest.raises(ValidationError, match="is not a valid network name"):
        provision_services.create_network(owner, cluster, name=name)
    with pytest.raises(market.ValidationError, match="is not a valid name"):
        market.export_app(owner, "Alpine Linux 3.13", name, "dc-image")
    assert (Network.objects.count(), VM.objects.count(), VMTemplate.objects.count()) == (
        networks,
        vms,
        templates,
    )


def test_the_documents_names_still_pass(api, do_token, owner, cluster, template):
    response = api.post(
        "/api/providers/", provider_body(do_token, name="digitalocean-nyc3"), format="json"
    )
    assert response.status_code == 201
    vm = vm_services.instantiate(owner, "Alpine", name="alpine_test", nics=["dc-public"])
    assert vm.name == "alpine_test"
