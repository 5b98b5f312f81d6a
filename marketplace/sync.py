"""Refresh a marketplace's apps from its index: simplestreams (LXC image servers) or the lab's
index.json. Only apps with a URL and a sha256 from the index become READY (exportable)."""

import json
import re
from pathlib import Path
from urllib.parse import urljoin

from django.db import transaction
from django.utils import timezone

from core import outbound
from marketplace.choices import AppState, MarketplaceKind
from marketplace.models import Marketplace, MarketplaceApp

CATALOG_FILE = Path(__file__).parent / "data" / "catalog.json"
TIMEOUT = (5, 60)


class SyncError(Exception):
    pass


def _get_json(url: str) -> dict:
    # Through core.outbound: the index URL is an operator's, the products path the index's.
    try:
        return outbound.fetch(url, timeout=TIMEOUT).json()
    except outbound.FetchError as exc:
        raise SyncError(f"cannot read {url}: {exc.reason}") from None
    except ValueError:
        raise SyncError(f"cannot read {url}: not JSON") from None


def catalog_apps(marketplace_name: str) -> dict[str, dict]:
    data = json.loads(CATALOG_FILE.read_text())
    for market in data["marketplaces"]:
        if market["name"] == marketplace_name:
            return {app["product"]: app for app in market["apps"]}
    return {}


def _simplestreams(marketplace: Marketplace) -> list[dict]:
    """index.json -> the 'images' products file -> newest version of each wanted product."""
    index = _get_json(marketplace.index_url)
    wanted = catalog_apps(marketplace.name)
    base = marketplace.index_url.rsplit("/streams/", 1)[0] + "/"
    found = []
    for entry in index.get("index", {}).values():
        if entry.get("datatype") != "image-downloads":
            continue
        products = _get_json(urljoin(base, entry["path"])).get("products", {})
        for product_id, app in wanted.items():
            product = products.get(product_id)
            if not product:
                continue
            version = sorted(product.get("versions", {}))[-1:]
            if not version:
                continue
            items = product["versions"][version[0]]["items"]
            rootfs = items.get("root.tar.xz") or items.get("rootfs.tar.xz")
            if rootfs and rootfs.get("sha256"):
                found.append(
                    {
                        **app,
                        "image_url": urljoin(base, rootfs["path"]),
                        "sha256": rootfs["sha256"],
                        "size_bytes": rootfs.get("size"),
                    }
                )
    return found


def _lab_index(marketplace: Marketplace) -> list[dict]:
    index = _get_json(marketplace.index_url)
    apps = []
    for image in index.get("images", []):
        apps.append(
            {
                "name": image["name"],
                "version": image["version"],
                "os_id": image.get("os", ""),
                "os_version": image["version"],
                "description": f"{image['name']} (lab image, version {image['version']})",
                "image_url": image["url"],
                "sha256": image["sha256"],
                "size_bytes": image.get("size"),
                "template": {"cpu": 1, "memory_mb": 256},
            }
        )
    return apps


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _checked(app: dict) -> dict:
    """An index entry is data from elsewhere: its checksum and URL must look right before a
    host is ever told to fetch it."""
    if not SHA256.match(str(app["sha256"])):
        raise ValueError(f"{app['name']}: sha256 {app['sha256']!r} is not 64 hex digits")
    try:
        outbound.check_url(str(app["image_url"]))
    except outbound.URLRefused as exc:
        raise SyncError(f"{app['name']}: image URL refused: {exc.message}") from None
    return app


def sync(marketplace: Marketplace) -> int:
    """Update apps from the index; returns how many apps are READY afterwards."""
    read = _lab_index if marketplace.kind == MarketplaceKind.LAB else _simplestreams
    try:
        try:
            apps = [_checked(app) for app in read(marketplace)]
        except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
            # Valid JSON of another shape: say so, instead of a crash (and a 500 in the API).
            kind = "lab" if marketplace.kind == MarketplaceKind.LAB else "simplestreams"
            raise SyncError(
                f"{marketplace.index_url} is not a {kind} index this portal understands "
                f"({exc.__class__.__name__}: {exc})"
            ) from None
    except SyncError as exc:
        Marketplace.objects.filter(pk=marketplace.pk).update(sync_error=str(exc))
        raise
    with transaction.atomic():
        for app in apps:
            MarketplaceApp.objects.update_or_create(
                marketplace=marketplace,
                name=app["name"],
                defaults={
                    "version": app["version"],
                    "description": app.get("description", ""),
                    "os_id": app.get("os_id", ""),
                    "os_version": app.get("os_version", ""),
                    "image_url": app["image_url"],
                    "sha256": app["sha256"],
                    "size_bytes": app.get("size_bytes"),
                    "template": app.get("template", {}),
                    "state": AppState.READY,
                },
            )
        Marketplace.objects.filter(pk=marketplace.pk).update(
            synced_at=timezone.now(), sync_error=""
        )
    return marketplace.apps.filter(state=AppState.READY).count()


def load_catalog(apps_registry=None) -> None:
    """Create the default marketplaces and their (unsynced) apps from the data file."""
    registry_market = (
        apps_registry.get_model("marketplace", "Marketplace") if apps_registry else Marketplace
    )
    registry_app = (
        apps_registry.get_model("marketplace", "MarketplaceApp")
        if apps_registry
        else MarketplaceApp
    )
    data = json.loads(CATALOG_FILE.read_text())
    for market in data["marketplaces"]:
        obj, _ = registry_market.objects.get_or_create(
            name=market["name"],
            defaults={
                "kind": market["kind"],
                "description": market["description"],
                "index_url": market["index_url"],
            },
        )
        for app in market["apps"]:
            registry_app.objects.get_or_create(
                marketplace=obj,
                name=app["name"],
                defaults={
                    "version": app["version"],
                    "os_id": app["os_id"],
                    "os_version": app["os_version"],
                    "description": app["description"],
                    "template": app["template"],
                    "state": AppState.UNSYNCED,
                },
            )
