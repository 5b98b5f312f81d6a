"""The simplestreams sync against a fake image server on 127.0.0.1 (allowed for these tests):
what it fills in, that it is idempotent, and that a broken index changes nothing."""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace import sync
from marketplace.choices import AppState
from marketplace.models import Marketplace, MarketplaceApp

pytestmark = pytest.mark.django_db

ALPINE = "alpine:3.13:amd64:default"
DEBIAN = "debian:bookworm:amd64:default"
UBUNTU = "ubuntu:jammy:amd64:default"
SHA_OLD, SHA_NEW, SHA_DEBIAN = "1" * 64, "2" * 64, "d" * 64


def products():
    """A products file in the images.linuxcontainers.org shape: several builds per product,
    items keyed by file name, paths relative to the server root."""
    return {
        "content_id": "images",
        "datatype": "image-downloads",
        "format": "products:1.0",
        "products": {
            ALPINE: {
                "arch": "amd64",
                "os": "Alpine",
                "release": "3.13",
                "versions": {
                    "20240101_13:00": {
                        "items": {
                            "root.tar.xz": {
                                "ftype": "root.tar.xz",
                                "path": "images/alpine/3.13/amd64/default/20240101/rootfs.tar.xz",
                                "sha256": SHA_OLD,
                                "size": 1111,
                            }
                        }
                    },
                    "20240301_13:00": {
                        "items": {
                            "lxd.tar.xz": {
                                "ftype": "lxd.tar.xz",
                                "path": "images/alpine/3.13/amd64/default/20240301/lxd.tar.xz",
                                "sha256": "f" * 64,
                                "size": 900,
                            },
                            "root.tar.xz": {
                                "ftype": "root.tar.xz",
                                "path": "images/alpine/3.13/amd64/default/20240301/rootfs.tar.xz",
                                "sha256": SHA_NEW,
                                "size": 2222,
                            },
                        }
                    },
                },
            },
            DEBIAN: {
                "versions": {
                    "20240301_05:24": {
                        "items": {
                            "rootfs.tar.xz": {
                                "path": "images/debian/bookworm/amd64/default/rootfs.tar.xz",
                                "sha256": SHA_DEBIAN,
                                "size": 3333,
                            }
                        }
                    }
                }
            },
            # Listed but without a checksum: must not become exportable.
            UBUNTU: {
                "versions": {
                    "20240301_07:42": {
                        "items": {"root.tar.xz": {"path": "images/ubuntu/rootfs.tar.xz"}}
                    }
                }
            },
            "centos:9:amd64:default": {"versions": {}},
        },
    }


def index():
    return {
        "format": "index:1.0",
        "index": {
            "images": {
                "datatype": "image-downloads",
                "path": "streams/v1/images.json",
                "format": "products:1.0",
                "products": [ALPINE, DEBIAN, UBUNTU],
            },
            # Another datatype: its file is never read (it does not even exist here).
            "other": {"datatype": "content-download", "path": "streams/v1/missing.json"},
        },
    }


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(autouse=True)
def _fake_server_allowed(settings):
    """The fake image server is on 127.0.0.1, which outbound URLs may only reach when an
    operator allows it (tests/marketplace/test_outbound_urls.py: refused otherwise)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def server_root(tmp_path):
    streams = tmp_path / "streams" / "v1"
    streams.mkdir(parents=True)
    (streams / "index.json").write_text(json.dumps(index()))
    (streams / "images.json").write_text(json.dumps(products()))
    return tmp_path


@pytest.fixture
def server(server_root, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    handler = functools.partial(_QuietHandler, directory=str(server_root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def marketplace(server):
    # The catalogue file says which products a marketplace wants, by the marketplace's name.
    market = Marketplace.objects.get(name="Linux Containers")
    market.index_url = f"{server}/streams/v1/index.json"
    market.save()
    return market


def apps(market):
    return {
        app.name: (app.state, app.version, app.sha256, app.image_url, app.size_bytes)
        for app in MarketplaceApp.objects.filter(marketplace=market)
    }


def test_sync_fills_in_the_newest_rootfs_of_each_wanted_product(marketplace, server):
    MarketplaceApp.objects.filter(marketplace=marketplace, name="Debian 12").delete()
    before = apps(marketplace)
    assert before["Alpine Linux 3.13"][0] == AppState.UNSYNCED

    assert sync.sync(marketplace) == 2

    after = apps(marketplace)
    assert after["Alpine Linux 3.13"] == (
        AppState.READY,
        "3.13",
        SHA_NEW,
        f"{server}/images/alpine/3.13/amd64/default/20240301/rootfs.tar.xz",
        2222,
    )
    # Debian was not in the database: the sync creates it, from the rootfs.tar.xz item.
    assert after["Debian 12"] == (
        AppState.READY,
        "12",
        SHA_DEBIAN,
        f"{server}/images/debian/bookworm/amd64/default/rootfs.tar.xz",
        3333,
    )
    debian = MarketplaceApp.objects.get(marketplace=marketplace, name="Debian 12")
    assert (debian.os_id, debian.os_version) == ("debian", "12")
    assert debian.template == {"cpu": 1, "memory_mb": 512}
    # No checksum, or not in the index at all: left as they were.
    for name in ("Ubuntu 22.04", "Alpine Linux 3.19", "Alpine Linux 3.20", "Alpine Linux 3.21"):
        assert after[name] == before[name], name
        assert after[name][0] == AppState.UNSYNCED
    marketplace.refresh_from_db()
    assert marketplace.synced_at is not None and marketplace.sync_error == ""


def test_second_sync_is_idempotent(marketplace):
    sync.sync(marketplace)
    first = apps(marketplace)
    ids = set(MarketplaceApp.objects.values_list("pk", flat=True))
    assert sync.sync(marketplace) == 2
    assert apps(marketplace) == first
    assert set(MarketplaceApp.objects.values_list("pk", flat=True)) == ids
    assert (
        MarketplaceApp.objects.filter(marketplace=marketplace, name="Alpine Linux 3.13").count()
        == 1
    )


def test_a_newer_build_updates_the_app_in_place(marketplace, server_root):
    sync.sync(marketplace)
    alpine = MarketplaceApp.objects.get(marketplace=marketplace, name="Alpine Linux 3.13")
    data = products()
    data["products"][ALPINE]["versions"]["20240401_13:00"] = {
        "items": {"root.tar.xz": {"path": "images/alpine/new/rootfs.tar.xz", "sha256": "3" * 64}}
    }
    (server_root / "streams" / "v1" / "images.json").write_text(json.dumps(data))
    sync.sync(marketplace)
    alpine.refresh_from_db()
    assert (alpine.sha256, alpine.size_bytes) == ("3" * 64, None)
    assert alpine.image_url.endswith("/images/alpine/new/rootfs.tar.xz")
    assert MarketplaceApp.objects.filter(name="Alpine Linux 3.13").count() == 1


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("index-json", r"cannot read http://127\.0\.0\.1:\d+/streams/v1/index\.json: not JSON$"),
        ("index-404", r"cannot read http://127\.0\.0\.1:\d+/streams/v1/index\.json: HTTP 404$"),
        (
            "products-json",
            r"cannot read http://127\.0\.0\.1:\d+/streams/v1/images\.json: not JSON$",
        ),
        ("products-404", r"cannot read http://127\.0\.0\.1:\d+/streams/v1/images\.json: HTTP 404$"),
    ],
)
def test_broken_index_is_a_clear_error_and_changes_nothing(
    marketplace, server_root, broken, message
):
    sync.sync(marketplace)
    marketplace.refresh_from_db()
    synced_at, before = marketplace.synced_at, apps(marketplace)
    target = server_root / "streams" / "v1" / ("index.json" if "index" in broken else "images.json")
    if broken.endswith("404"):
        target.unlink()
    else:
        target.write_text('{"index": {"images": ')
    with pytest.raises(sync.SyncError, match=message):
        sync.sync(marketplace)
    assert apps(marketplace) == before
    marketplace.refresh_from_db()
    assert marketplace.synced_at == synced_at
    assert marketplace.sync_error.startswith("cannot read http://127.0.0.1:")


def test_a_good_sync_clears_the_previous_error(marketplace, server_root):
    index_file = server_root / "streams" / "v1" / "index.json"
    index_file.rename(server_root / "saved.json")
    with pytest.raises(sync.SyncError):
        sync.sync(marketplace)
    marketplace.refresh_from_db()
    assert "HTTP 404" in marketplace.sync_error and marketplace.synced_at is None
    assert MarketplaceApp.objects.filter(state=AppState.READY).count() == 0
    (server_root / "saved.json").rename(index_file)
    assert sync.sync(marketplace) == 2
    marketplace.refresh_from_db()
    assert marketplace.sync_error == "" and marketplace.synced_at is not None


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("index.json", "[]"),
        ("index.json", '{"index": {"images": {"datatype": "image-downloads"}}}'),
        ("images.json", '{"products": []}'),
    ],
)
def test_index_of_the_wrong_shape_is_a_clear_error(marketplace, server_root, file, content):
    before = apps(marketplace)
    (server_root / "streams" / "v1" / file).write_text(content)
    with pytest.raises(sync.SyncError):
        sync.sync(marketplace)
    assert apps(marketplace) == before
    marketplace.refresh_from_db()
    assert marketplace.sync_error != ""
