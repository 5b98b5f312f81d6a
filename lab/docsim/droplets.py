"""Droplets in the API's shape: what a create body must be, the record, its addresses."""

import ipaddress
import re
import time
from datetime import UTC, datetime

from lab.docsim import catalog
from lab.docsim.errors import ApiError, unprocessable

HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$")
TAG_NAME = re.compile(r"^[a-zA-Z0-9_:\-]{1,255}$")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate(cloud, body) -> list[str]:
    """The names to create, or 422 with what is wrong with the body."""
    names = body.get("names") if "names" in body else [body.get("name")]
    if not isinstance(names, list) or not names or len(names) > 10:
        raise unprocessable("names must be a list of 1 to 10 droplet names")
    for name in names:
        if not isinstance(name, str) or not HOSTNAME.match(name):
            raise unprocessable(
                f"Name {name!r} is invalid: only a-z, A-Z, 0-9, . and - are allowed"
            )
    if body.get("region") not in catalog.REGIONS:
        raise unprocessable(f"Region {body.get('region')!r} is not available")
    if catalog.size(body.get("size")) is None:
        raise unprocessable(f"Size {body.get('size')!r} is not available")
    if catalog.image(body.get("image")) is None:
        raise unprocessable(f"Image {body.get('image')!r} is not available")
    for ref in body.get("ssh_keys") or []:
        try:
            cloud.key(ref)
        except ApiError:
            raise unprocessable(f"SSH key {ref!r} does not exist") from None
    if body.get("vpc_uuid"):
        vpc = cloud.vpcs.get(body["vpc_uuid"])
        if vpc is None:
            raise unprocessable(f"VPC {body['vpc_uuid']} does not exist")
        if vpc["region"] != body["region"]:
            raise unprocessable("The VPC is in another region")
    for tag in body.get("tags") or []:
        if not isinstance(tag, str) or not TAG_NAME.match(tag):
            raise unprocessable(f"Tag {tag!r} is invalid")
    user_data = body.get("user_data")
    if user_data is not None and len(str(user_data)) > 64 * 1024:
        raise unprocessable("user_data is limited to 64 KiB")
    return names


def record(droplet_id, name, body, size, image, vpc, public, private, public_keys) -> dict:
    """A new droplet (`_` keys are the simulator's own, never shown)."""
    return {
        "id": droplet_id,
        "name": name,
        "memory": size["memory"],
        "vcpus": size["vcpus"],
        "disk": size["disk"],
        "locked": False,
        "status": "new",
        "kernel": None,
        "created_at": now_iso(),
        "features": ["private_networking"],
        "backup_ids": [],
        "next_backup_window": None,
        "snapshot_ids": [],
        "image": image,
        "volume_ids": [],
        "size": size,
        "size_slug": size["slug"],
        # DigitalOcean answers a create before the droplet has addresses: they appear
        # when it turns active (the clock, in tick()).
        "networks": {"v4": [], "v6": []},
        "region": catalog.region(body["region"]),
        "tags": list(body.get("tags") or []),
        "vpc_uuid": vpc["id"],
        "_created": time.monotonic(),
        "_public_ip": public,
        "_private_ip": private,
        "_private_netmask": str(ipaddress.ip_network(vpc["ip_range"]).netmask),
        "_user_data": body.get("user_data"),
        "_ssh_keys": public_keys,
        "_lab_error": None,
    }


def v4_networks(droplet, cloud) -> list[dict]:
    """The addresses a droplet shows once it is active."""
    return [
        {
            "ip_address": droplet["_public_ip"],
            "netmask": str(cloud.public_net.netmask),
            "gateway": cloud.public_gateway,
            "type": "public",
        },
        {
            "ip_address": droplet["_private_ip"],
            "netmask": droplet["_private_netmask"],
            "gateway": "",
            "type": "private",
        },
    ]
