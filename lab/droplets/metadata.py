"""DigitalOcean's metadata service for one vm droplet, as the guest's cloud-init reads it.

The simulator knows the droplet; this writes what the service answers as files (v1.json and
the per-field paths of the documented /metadata/v1/ tree) and serves them with the standard
library's HTTP server on 169.254.169.254:80 inside the droplet's own network namespace, where
only its guest reaches it (lab.droplets.vm keeps link-local traffic off the shared bridges).
"""

import ipaddress
import json
from pathlib import Path

ADDRESS = "169.254.169.254"

# DigitalOcean's own vendor data lets root log in with the account's keys (Debian's cloud.cfg
# would otherwise turn root's keys into "please log in as debian").
VENDOR_DATA = "#cloud-config\ndisable_root: false\nmanage_etc_hosts: true\n"


def vendor_data(apt_proxy: str | None = None) -> str:
    """DigitalOcean's vendor data; with `apt_proxy`, also the lab's package cache for apt (the
    guests' only way to a Debian mirror: they have no route out of the lab)."""
    if not apt_proxy:
        return VENDOR_DATA
    return VENDOR_DATA + f"apt:\n  proxy: {apt_proxy}\n"


def document(
    *,
    droplet_id: int,
    hostname: str,
    region: str,
    public_keys: list[str],
    user_data: str | None,
    public_ip: str,
    public_prefix: int,
    gateway: str,
    public_mac: str,
    private_ip: str,
    private_prefix: int,
    private_mac: str,
    nameservers: list[str],
    apt_proxy: str | None = None,
) -> dict:
    """/metadata/v1.json. `interfaces.private` is never empty: cloud-init 22.4's network
    helper fails on an empty list, and a droplet always has its VPC address."""

    def netmask(prefix):
        return str(ipaddress.ip_network(f"0.0.0.0/{int(prefix)}").netmask)

    return {
        "droplet_id": int(droplet_id),
        "hostname": hostname,
        "user_data": user_data,
        "vendor_data": vendor_data(apt_proxy),
        "public_keys": list(public_keys),
        "auth_key": "",
        "region": region,
        "interfaces": {
            "public": [
                {
                    "ipv4": {
                        "ip_address": public_ip,
                        "netmask": netmask(public_prefix),
                        "gateway": gateway,
                    },
                    "mac": public_mac,
                    "type": "public",
                }
            ],
            "private": [
                {
                    "ipv4": {
                        "ip_address": private_ip,
                        "netmask": netmask(private_prefix),
                        "gateway": "0.0.0.0",
                    },
                    "mac": private_mac,
                    "type": "private",
                }
            ],
        },
        "floating_ip": {"ipv4": {"active": False}},
        "reserved_ip": {"ipv4": {"active": False}, "ipv6": {"active": False}},
        "dns": {"nameservers": list(nameservers)},
        "tags": [],
        "features": {"dhcp_enabled": False},
    }


def write_tree(root: Path, doc: dict) -> None:
    """The files behind the service: v1.json, and /metadata/v1/<field> for the plain ones."""
    v1 = root / "metadata" / "v1"
    v1.mkdir(parents=True, exist_ok=True)
    (root / "metadata" / "v1.json").write_text(json.dumps(doc))
    plain = {
        "id": str(doc["droplet_id"]),
        "hostname": doc["hostname"],
        "region": doc["region"],
        "user-data": doc["user_data"] or "",
        "vendor-data": doc["vendor_data"],
        "public-keys": "\n".join(doc["public_keys"]),
    }
    for name, text in plain.items():
        (v1 / name).write_text(text)
