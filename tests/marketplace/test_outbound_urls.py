"""Every place an outbound URL enters the portal (admin forms, marketplace sync, export, the API)
tried with an internal address: refused with "address not allowed", nothing stored or changed,
and nothing fetched from the internal address."""

import json

import pytest
from django.urls import reverse

from marketplace import services, sync
from marketplace.choices import AppState
from marketplace.models import Marketplace, MarketplaceApp
from tests.local_http import BANNER, fake_dns, serve
from vms.models import Image, VMTemplate

pytestmark = pytest.mark.django_db

METADATA = "http://169.254.169.254/metadata/v1/user-data"
SHA = "b" * 64


def lab_index(image_url: str) -> bytes:
    image = {"name": "Alpine Linux 3.23", "version": "3.23.6", "os": "alpine"}
    return json.dumps({"images": [{**image, "url": image_url, "sha256": SHA, "size": 3}]}).encode()


def snapshot():
    """Everything a sync or an export could change."""
    return (
        list(Marketplace.objects.order_by("pk").values_list("index_url", "synced_at")),
        list(MarketplaceApp.objects.order_by("pk").values()),
        list(Image.objects.values_list("pk", "url")),
        VMTemplate.objects.count(),
    )


@pytest.fixture
def edge_lab():
    return Marketplace.objects.get(name="Edge Lab")


def test_sync_from_an_internal_index_url_fetches_nothing_and_stores_nothing(edge_lab):
    with serve({"/index.json": (200, {}, lab_index("http://198.18.0.1/a.tar"))}) as internal:
        # As if set before the check existed (or straight in the database).
        Marketplace.objects.filter(pk=edge_lab.pk).update(index_url=internal.url("/index.json"))
        edge_lab.refresh_from_db()
        before = snapshot()
        with pytest.raises(sync.SyncError) as refused:
            sync.sync(edge_lab)
        assert internal.seen == []
    assert str(refused.value).endswith("127.0.0.1: address not allowed")
    assert snapshot() == before and not edge_lab.apps.exists()
    edge_lab.refresh_from_db()
    assert edge_lab.sync_error == str(refused.value) and BANNER not in edge_lab.sync_error


def test_sync_refuses_an_index_whose_image_urls_point_inside(edge_lab, settings, monkeypatch):
    """The index server is allowed; the image URLs it lists are checked on their own."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake_dns(monkeypatch, {"metadata.test": ["169.254.169.254"]})
    for image_url in (METADATA, "http://metadata.test/latest/", "file:///etc/shadow"):
        with serve({"/index.json": (200, {}, lab_index(image_url))}) as server:
            Marketplace.objects.filter(pk=edge_lab.pk).update(index_url=server.url("/index.json"))
            edge_lab.refresh_from_db()
            before = snapshot()
            with pytest.raises(sync.SyncError, match="Alpine Linux 3.23: image URL refused: "):
                sync.sync(edge_lab)
        assert snapshot() == before and not edge_lab.apps.exists(), image_url


def test_sync_refuses_a_products_path_that_leaves_for_an_internal_host(settings):
    """A simplestreams index names its products file; an absolute URL there is fetched through
    the same check."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    market = Marketplace.objects.get(name="Linux Containers")
    with serve() as internal:
        index = {
            "index": {
                "images": {
                    "datatype": "image-downloads",
                    "path": internal.url("/streams/v1/images.json"),
                }
            }
        }
        routes = {"/streams/v1/index.json": (200, {}, json.dumps(index).encode())}
        with serve(routes, host="127.0.0.2") as mirror:
            market.index_url = mirror.url("/streams/v1/index.json")
            market.save()
            before = snapshot()
            with pytest.raises(sync.SyncError, match="127.0.0.1: address not allowed"):
                sync.sync(market)
        assert internal.seen == [] and mirror.seen == ["/streams/v1/index.json"]
    assert snapshot() == before


def test_api_sync_of_an_internal_index_is_a_502_that_tells_nothing(operator_api, edge_lab):
    with serve() as internal:
        Marketplace.objects.filter(pk=edge_lab.pk).update(index_url=internal.url("/index.json"))
        response = operator_api.post(f"/api/marketplaces/{edge_lab.pk}/sync/")
        assert internal.seen == []
    assert response.status_code == 502
    assert response.json()["detail"].endswith("127.0.0.1: address not allowed")
    # Neither the internal server's banner nor its status leaks; the URL itself is named, and
    # its random port may hold the digits 418, so it is taken out before looking.
    body = response.content.decode().replace(internal.url("/index.json"), "URL")
    assert BANNER not in body and "418" not in body
    assert not edge_lab.apps.exists()


def _change(client, obj, data):
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return client.post(url, data)


def marketplace_form(market, **changes):
    return {
        "name": market.name,
        "description": market.description,
        "kind": market.kind,
        "index_url": market.index_url,
        "synced_at_0": "",
        "synced_at_1": "",
        "sync_error": "",
        **changes,
    }


def app_form(app, **changes):
    return {
        "marketplace": app.marketplace_id,
        "name": app.name,
        "version": app.version,
        "description": app.description,
        "os_id": app.os_id,
        "os_version": app.os_version,
        "arch": app.arch,
        "image_url": app.image_url,
        "sha256": app.sha256,
        "size_bytes": app.size_bytes or "",
        "template": json.dumps(app.template),
        "state": app.state,
        **changes,
    }


def image_form(image, **changes):
    return {
        "owner": image.owner_id,
        "name": image.name,
        "datastore": image.datastore_id,
        "app": image.app_id or "",
        "url": image.url,
        "sha256": image.sha256,
        "size_bytes": image.size_bytes or "",
        "os_id": image.os_id,
        **changes,
    }


INTERNAL_URLS = [
    (METADATA, "169.254.169.254: address not allowed"),
    ("http://127.0.0.1:8000/admin/", "127.0.0.1: address not allowed"),
    ("http://[::1]/", "::1: address not allowed"),
    ("http://10.0.0.1/a.tar", "10.0.0.1: address not allowed"),
    ("http://localhost/a.tar", "localhost: address not allowed"),
    ("gopher://images.example/a.tar", "only http and https URLs are fetched"),
]


@pytest.mark.parametrize(("url", "message"), INTERNAL_URLS)
def test_admin_refuses_an_internal_index_or_image_url_and_changes_nothing(
    operator_client, template, url, message
):
    market = Marketplace.objects.get(name="Linux Containers")
    app = MarketplaceApp.objects.get(name="Alpine Linux 3.13")
    image = template.image
    for obj, data in (
        (market, marketplace_form(market, index_url=url)),
        (app, app_form(app, image_url=url)),
        (image, image_form(image, url=url)),
    ):
        before = snapshot()
        response = _change(operator_client, obj, data)
        assert response.status_code == 200, obj  # the form again, with its error
        (field,) = response.context["adminform"].form.errors.values()
        assert any(message in error for error in field), field
        assert snapshot() == before


def test_admin_saves_a_public_url(operator_client, monkeypatch):
    fake_dns(monkeypatch, {"images.test": ["93.184.216.34"]})
    market = Marketplace.objects.get(name="Linux Containers")
    url = "https://images.test/streams/v1/index.json"
    response = _change(operator_client, market, marketplace_form(market, index_url=url))
    assert response.status_code == 302
    market.refresh_from_db()
    assert market.index_url == url


@pytest.mark.parametrize("url", [METADATA, "http://127.0.0.1:8080/a.tar", "http://[::1]/a"])
def test_export_of_an_app_with_an_internal_image_url_creates_nothing(owner, cluster, app, url):
    MarketplaceApp.objects.filter(pk=app.pk).update(image_url=url)
    before = snapshot()
    with pytest.raises(services.ValidationError, match="image URL refused: .*address not allowed"):
        services.export_app(owner, app.pk, "Alpine", "dc-image")
    assert snapshot() == before and not Image.objects.exists()


def test_api_export_of_an_internal_image_url_is_a_400_and_creates_nothing(api, cluster, app):
    MarketplaceApp.objects.filter(pk=app.pk).update(image_url=METADATA, state=AppState.READY)
    response = api.post(
        f"/api/marketplaceapps/{app.pk}/export/", {"name": "Alpine", "datastore": "dc-image"}
    )
    assert response.status_code == 400
    assert "169.254.169.254: address not allowed" in response.json()["detail"]
    assert not Image.objects.exists() and not VMTemplate.objects.exists()
