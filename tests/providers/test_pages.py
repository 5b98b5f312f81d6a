import pytest

from providers.models import Provider
from provisions.models import Provision
from tests.factories import make_provider
from tests.providers.samples import CORRECTED_YAML, DOCUMENT_YAML

pytestmark = pytest.mark.django_db


def test_login_required(client):
    response = client.get("/providers/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_list_shows_own_and_shared_not_foreign(owner_client, owner, outsider):
    mine = make_provider(owner, name="mine")
    theirs = make_provider(outsider, name="theirs")
    page = owner_client.get("/providers/").content.decode()
    assert mine.name in page
    assert "digitalocean-amsterdam" in page
    assert theirs.name not in page


def test_htmx_search_returns_rows_only(owner_client, owner):
    make_provider(owner, name="findme")
    response = owner_client.get(
        "/providers/?q=findme", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="provider-rows"
    )
    html = response.content.decode()
    assert "findme" in html
    assert "<html" not in html
    assert "digitalocean-amsterdam" not in html


@pytest.mark.parametrize("count", [1, 50])
def test_list_page_query_count_is_constant(
    owner_client, owner, count, django_assert_max_num_queries
):
    for index in range(count):
        make_provider(owner, name=f"p{index}")
    # session + user + providers with counts
    with django_assert_max_num_queries(3):
        response = owner_client.get("/providers/")
    assert response.content.decode().count("<tr>") == 1 + count + 5  # header + own + predefined


def test_create_from_form(owner_client, owner, do_token):
    response = owner_client.post(
        "/providers/new/",
        {
            "name": "form-made",
            "region": "sgp1",
            "token": do_token,
            "images": "ubuntu-22-04-x64, debian-12-x64",
            "sizes": "s-1vcpu-2gb",
        },
    )
    provider = Provider.objects.get(name="form-made")
    assert response.status_code == 302
    assert provider.owner == owner
    assert provider.get_token() == do_token
    assert provider.input_options("digitalocean_image") == ["ubuntu-22-04-x64", "debian-12-x64"]


def test_form_error_keeps_input_and_saves_nothing(owner_client, do_token):
    response = owner_client.post(
        "/providers/new/", {"name": "", "region": "sgp1", "token": do_token}
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert do_token not in response.content.decode()
    assert not Provider.objects.filter(region="sgp1", owner__isnull=False).exists()


def test_import_document_yaml_shows_the_line(owner_client):
    response = owner_client.post("/providers/import/", {"yaml": DOCUMENT_YAML})
    assert response.status_code == 200
    assert "line 17" in response.content.decode()


def test_import_uploaded_yaml(owner_client, do_token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("provider.yaml", CORRECTED_YAML.format(token=do_token).encode())
    response = owner_client.post("/providers/import/", {"upload": upload})
    assert response.status_code == 302
    assert Provider.objects.get(name="digitalocean-nyc3").get_token() == do_token


def test_detail_edit_and_token_never_rendered(owner_client, owner, do_token):
    provider = make_provider(owner, token=do_token)
    for url in [
        f"/providers/{provider.pk}/",
        f"/providers/{provider.pk}/edit/",
        f"/providers/{provider.pk}/yaml/",
        "/providers/",
    ]:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert do_token not in response.content.decode(), url
        assert do_token[-4:] in response.content.decode() or url.endswith("/edit/")


def test_edit_blank_token_keeps_it(owner_client, owner, do_token):
    provider = make_provider(owner, token=do_token)
    response = owner_client.post(
        f"/providers/{provider.pk}/edit/",
        {
            "name": "renamed",
            "region": "lon1",
            "token": "",
        },
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.region, provider.get_token()) == ("renamed", "lon1", do_token)


def test_delete_needs_confirmation(owner_client, owner):
    provider = make_provider(owner)
    confirm = owner_client.get(f"/providers/{provider.pk}/delete/")
    assert b"Yes, delete" in confirm.content
    assert Provider.objects.filter(pk=provider.pk).exists()
    owner_client.post(f"/providers/{provider.pk}/delete/")
    assert not Provider.objects.filter(pk=provider.pk).exists()


def test_delete_refused_while_used(owner_client, owner):
    provider = make_provider(owner)
    Provision.objects.create(name="busy", provider=provider, owner=owner)
    response = owner_client.post(f"/providers/{provider.pk}/delete/", follow=True)
    assert "used by provision(s) busy" in response.content.decode()
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_outsider_gets_404_on_every_page(outsider_client, owner):
    provider = make_provider(owner)
    for url in ["", "edit/", "delete/", "yaml/"]:
        assert outsider_client.get(f"/providers/{provider.pk}/{url}").status_code == 404, url
    assert outsider_client.post(f"/providers/{provider.pk}/delete/").status_code == 404
    assert outsider_client.post(f"/providers/{provider.pk}/test/").status_code == 404
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_user_cannot_edit_shared_provider(owner_client):
    shared = Provider.objects.get(name="digitalocean-london")
    page = owner_client.get(f"/providers/{shared.pk}/").content.decode()
    assert "/edit/" not in page
    response = owner_client.post(f"/providers/{shared.pk}/edit/", {"name": "x", "region": "lon1"})
    assert response.status_code == 403


def test_admin_masks_token(operator_client, owner, do_token):
    provider = make_provider(owner, token=do_token)
    for url in ["/admin/providers/provider/", f"/admin/providers/provider/{provider.pk}/change/"]:
        response = operator_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert do_token not in html
        assert provider.token_encrypted not in html


def test_admin_sets_token(operator_client, owner, do_token):
    provider = make_provider(owner, token="dop_v1_old_old_old_0000")
    response = operator_client.post(
        f"/admin/providers/provider/{provider.pk}/change/",
        {
            "name": provider.name,
            "description": "",
            "provider_type": "digitalocean",
            "region": "nyc3",
            "plain": "{}",
            "inputs": "[]",
            "owner": owner.pk,
            "token": do_token,
        },
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.get_token() == do_token


def test_dashboard_counts_users_resources(owner_client, owner, outsider):
    make_provider(owner, name="a")
    make_provider(outsider, name="b")
    response = owner_client.get("/")
    assert response.context["counts"]["providers"] == 6
    assert response.context["counts"]["providers_ready"] == 1


def test_layout_has_nav_vendored_htmx_and_csrf_header(owner_client):
    html = owner_client.get("/").content.decode()
    for label in ["Dashboard", "Providers", "Provisions", "Marketplace", "Templates", "VMs"]:
        assert label in html
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "unpkg" not in html and "cdn" not in html
