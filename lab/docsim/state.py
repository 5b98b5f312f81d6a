"""The simulator's in-memory cloud: what exists, and the rules of the real API about it."""

import base64
import binascii
import hashlib
import ipaddress
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from lab.docsim import catalog

# With lab hosts, droplets' public addresses live on the lab bridge (198.18.0.0/15, made by
# lab.hosts). Without them nothing answers at a droplet's address, so it is a loopback address:
# an SSH attempt is refused on this machine at once instead of leaving it by the default route.
PUBLIC_NET = ipaddress.ip_network("198.18.0.0/15")
PUBLIC_GATEWAY = "198.18.0.1"
OFFLINE_PUBLIC_NET = ipaddress.ip_network("127.18.0.0/16")
OFFLINE_PUBLIC_GATEWAY = "127.18.0.1"
VPC_POOL = ipaddress.ip_network("10.96.0.0/11")  # /20 VPC ranges are carved from here
HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$")
TAG_NAME = re.compile(r"^[a-zA-Z0-9_:\-]{1,255}$")


class ApiError(Exception):
    def __init__(self, status: int, error_id: str, message: str):
        super().__init__(message)
        self.status, self.error_id, self.message = status, error_id, message


def not_found():
    return ApiError(404, "not_found", "The resource you were accessing could not be found.")


def unprocessable(message):
    return ApiError(422, "unprocessable_entity", message)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def md5_fingerprint(public_key: str) -> str:
    parts = public_key.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise unprocessable("Key invalid, key should be of the form `type key [comment]`")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise unprocessable("Key invalid, the key data is not valid base64") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


class Cloud:
    def __init__(self, options, lab_hosts=None):
        self.options = options
        self.lab_hosts = lab_hosts
        if lab_hosts is None:
            self.public_net, self.public_gateway = OFFLINE_PUBLIC_NET, OFFLINE_PUBLIC_GATEWAY
        else:
            self.public_net, self.public_gateway = PUBLIC_NET, PUBLIC_GATEWAY
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.droplets: dict[int, dict] = {}
            self.vpcs: dict[str, dict] = {}
            self.firewalls: dict[str, dict] = {}
            self.keys: dict[int, dict] = {}
            self.tags: dict[str, dict] = {}
            self.actions: dict[int, dict] = {}
            self.next_id = {"droplet": 300000001, "key": 4000001, "action": 2000000001}
            self.used_public: set[str] = set()
            self.calls_total = 0
            self.calls: dict[str, int] = {}
            self.booted: dict[
                int, float
            ] = {}  # droplet id -> monotonic time its lab host was ready

    def _id(self, kind):
        value = self.next_id[kind]
        self.next_id[kind] += 1
        return value

    # -- ssh keys --------------------------------------------------------------------------
    def key(self, ref) -> dict:
        for key in self.keys.values():
            if str(key["id"]) == str(ref) or key["fingerprint"] == str(ref):
                return key
        raise not_found()

    def create_key(self, body) -> dict:
        name, public_key = body.get("name"), (body.get("public_key") or "").strip()
        if not name:
            raise unprocessable("Name is required")
        fingerprint = md5_fingerprint(public_key)
        if any(k["fingerprint"] == fingerprint for k in self.keys.values()):
            raise unprocessable("SSH Key is already in use on your account")
        key = {
            "id": self._id("key"),
            "fingerprint": fingerprint,
            "public_key": public_key,
            "name": name,
        }
        self.keys[key["id"]] = key
        return key

    # -- tags ------------------------------------------------------------------------------
    def ensure_tag(self, name) -> dict:
        if not isinstance(name, str) or not TAG_NAME.match(name):
            raise unprocessable(
                f"Tag name {name!r} is invalid: use letters, numbers, colons, "
                "dashes and underscores"
            )
        return self.tags.setdefault(name, {"name": name})

    def tag_view(self, name) -> dict:
        count = sum(1 for d in self.droplets.values() if name in d["tags"])
        last = next((d for d in self.droplets.values() if name in d["tags"]), None)
        return {
            "name": name,
            "resources": {
                "count": count,
                "droplets": {
                    "count": count,
                    "last_tagged_uri": (f"/v2/droplets/{last['id']}" if last else None),
                },
            },
        }

    # -- vpcs ------------------------------------------------------------------------------
    def vpc(self, vpc_id) -> dict:
        if vpc_id not in self.vpcs:
            raise not_found()
        return self.vpcs[vpc_id]

    def _free_range(self) -> str:
        taken = [ipaddress.ip_network(v["ip_range"]) for v in self.vpcs.values()]
        for candidate in VPC_POOL.subnets(new_prefix=20):
            if not any(candidate.overlaps(t) for t in taken):
                return str(candidate)
        raise unprocessable("No VPC address range left")

    def create_vpc(self, body) -> dict:
        name, region = body.get("name"), body.get("region")
        if not name or not re.match(r"^[a-zA-Z0-9.-]{1,64}$", str(name)):
            raise unprocessable("Name must be 1-64 letters, numbers, dots or dashes")
        if region not in catalog.REGIONS:
            raise unprocessable(f"Region {region!r} is not available")
        if any(v["name"] == name for v in self.vpcs.values()):
            raise unprocessable(f"A VPC named {name!r} already exists in this account")
        ip_range = body.get("ip_range")
        if ip_range:
            try:
                network = ipaddress.ip_network(ip_range)
            except ValueError:
                raise unprocessable(f"ip_range {ip_range!r} is not a valid CIDR") from None
            if any(
                network.overlaps(ipaddress.ip_network(v["ip_range"])) for v in self.vpcs.values()
            ):
                raise unprocessable(f"ip_range {ip_range} overlaps an existing VPC")
        else:
            ip_range = self._free_range()
        vpc_id = str(uuid.uuid4())
        vpc = {
            "id": vpc_id,
            "urn": f"do:vpc:{vpc_id}",
            "name": name,
            "description": body.get("description", ""),
            "region": region,
            "ip_range": ip_range,
            # The docs' rule: a region's first VPC becomes its default.
            "default": not any(v["region"] == region for v in self.vpcs.values()),
            "created_at": now_iso(),
            "_next_host": 2,
        }
        self.vpcs[vpc_id] = vpc
        return vpc

    def delete_vpc(self, vpc_id):
        vpc = self.vpc(vpc_id)
        if vpc["default"]:
            raise ApiError(403, "forbidden", "Cannot delete the default VPC of a region")
        if any(d["vpc_uuid"] == vpc_id for d in self.droplets.values()):
            raise ApiError(409, "conflict", "Cannot delete a VPC with members")
        del self.vpcs[vpc_id]

    def default_vpc(self, region) -> dict:
        for vpc in self.vpcs.values():
            if vpc["region"] == region and vpc["default"]:
                return vpc
        return self.create_vpc({"name": f"default-{region}", "region": region})

    # -- droplets --------------------------------------------------------------------------
    def droplet(self, droplet_id) -> dict:
        try:
            return self.droplets[int(droplet_id)]
        except (KeyError, ValueError):
            raise not_found() from None

    def _public_ip(self) -> str:
        for address in self.public_net.hosts():
            text = str(address)
            if text != self.public_gateway and text not in self.used_public:
                self.used_public.add(text)
                return text
        raise unprocessable("No public address left")

    def _private_ip(self, vpc) -> str:
        network = ipaddress.ip_network(vpc["ip_range"])
        used = {d["_private_ip"] for d in self.droplets.values() if d["vpc_uuid"] == vpc["id"]}
        for offset in range(2, network.num_addresses - 1):
            candidate = str(network.network_address + offset)
            if candidate not in used:
                return candidate
        raise unprocessable("The VPC has no free address")

    def validate_droplet_body(self, body) -> list[str]:
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
                self.key(ref)
            except ApiError:
                raise unprocessable(f"SSH key {ref!r} does not exist") from None
        if body.get("vpc_uuid"):
            vpc = self.vpcs.get(body["vpc_uuid"])
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

    def create_droplets(self, body) -> tuple[list[dict], dict]:
        names = self.validate_droplet_body(body)
        vpc = (
            self.vpcs[body["vpc_uuid"]]
            if body.get("vpc_uuid")
            else self.default_vpc(body["region"])
        )
        for tag in body.get("tags") or []:
            self.ensure_tag(tag)
        size, image = catalog.size(body["size"]), catalog.image(body["image"])
        created = []
        for name in names:
            droplet_id = self._id("droplet")
            public, private = self._public_ip(), self._private_ip(vpc)
            droplet = {
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
                "networks": {
                    "v4": [
                        {
                            "ip_address": public,
                            "netmask": str(self.public_net.netmask),
                            "gateway": self.public_gateway,
                            "type": "public",
                        },
                        {
                            "ip_address": private,
                            "netmask": str(ipaddress.ip_network(vpc["ip_range"]).netmask),
                            "gateway": "",
                            "type": "private",
                        },
                    ],
                    "v6": [],
                },
                "region": catalog.region(body["region"]),
                "tags": list(body.get("tags") or []),
                "vpc_uuid": vpc["id"],
                "_created": time.monotonic(),
                "_public_ip": public,
                "_private_ip": private,
                "_user_data": body.get("user_data"),
                "_ssh_keys": [self.key(ref)["public_key"] for ref in body.get("ssh_keys") or []],
                "_lab_error": None,
            }
            self.droplets[droplet_id] = droplet
            created.append(droplet)
        action = self.new_action("create", created[0]["id"], body["region"], complete=True)
        return created, action

    def refresh_status(self, droplet) -> None:
        """`new` -> `active` once the boot delay passed (and, in the lab, the host is up)."""
        if droplet["status"] != "new":
            return
        if self.options.never_active and self.options.never_active in droplet["name"]:
            return
        if time.monotonic() - droplet["_created"] < self.options.boot_delay:
            return
        if self.lab_hosts is not None and droplet["id"] not in self.booted:
            return
        droplet["status"] = "active"

    def delete_droplet(self, droplet_id):
        droplet = self.droplet(droplet_id)
        del self.droplets[droplet["id"]]
        self.used_public.discard(droplet["_public_ip"])
        self.booted.pop(droplet["id"], None)
        for firewall in self.firewalls.values():
            if droplet["id"] in firewall["droplet_ids"]:
                firewall["droplet_ids"].remove(droplet["id"])
        return droplet

    # -- actions ---------------------------------------------------------------------------
    def new_action(self, action_type, droplet_id, region, complete=False) -> dict:
        action = {
            "id": self._id("action"),
            "status": "completed" if complete else "in-progress",
            "type": action_type,
            "started_at": now_iso(),
            "completed_at": now_iso() if complete else None,
            "resource_id": droplet_id,
            "resource_type": "droplet",
            "region": catalog.region(region),
            "region_slug": region,
            "_started": time.monotonic(),
        }
        self.actions[action["id"]] = action
        return action

    def refresh_action(self, action) -> None:
        if action["status"] != "in-progress" or time.monotonic() - action["_started"] < 0.5:
            return
        if self.options.errored_actions:
            action["status"] = "errored"
        else:
            action["status"] = "completed"
            droplet = self.droplets.get(action["resource_id"])
            if droplet is not None:
                if action["type"] in ("power_off", "shutdown"):
                    droplet["status"] = "off"
                elif action["type"] in ("power_on", "reboot", "power_cycle"):
                    droplet["status"] = "active"
        action["completed_at"] = now_iso()

    # -- firewalls -------------------------------------------------------------------------
    def firewall(self, firewall_id) -> dict:
        if firewall_id not in self.firewalls:
            raise not_found()
        return self.firewalls[firewall_id]

    def _check_rules(self, body):
        for key in ("inbound_rules", "outbound_rules"):
            rules = body.get(key) or []
            if not isinstance(rules, list):
                raise unprocessable(f"{key} must be a list")
            for rule in rules:
                if rule.get("protocol") not in ("tcp", "udp", "icmp"):
                    raise unprocessable(f"{key}: protocol must be tcp, udp or icmp")
                if rule.get("protocol") != "icmp" and not rule.get("ports"):
                    raise unprocessable(f"{key}: ports are required for tcp and udp")

    def create_firewall(self, body) -> dict:
        if not body.get("name"):
            raise unprocessable("Name is required")
        self._check_rules(body)
        for droplet_id in body.get("droplet_ids") or []:
            self.droplet(droplet_id)
        for tag in body.get("tags") or []:
            self.ensure_tag(tag)
        firewall_id = str(uuid.uuid4())
        firewall = {
            "id": firewall_id,
            "name": body["name"],
            "status": "succeeded",
            "created_at": now_iso(),
            "pending_changes": [],
            "inbound_rules": body.get("inbound_rules") or [],
            "outbound_rules": body.get("outbound_rules") or [],
            "droplet_ids": [int(d) for d in body.get("droplet_ids") or []],
            "tags": list(body.get("tags") or []),
        }
        self.firewalls[firewall_id] = firewall
        return firewall

    # -- views -----------------------------------------------------------------------------
    def public(self, obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def snapshot(self) -> dict:
        with self.lock:
            for droplet in self.droplets.values():
                self.refresh_status(droplet)
            return {
                "droplets": [
                    {
                        "id": d["id"],
                        "name": d["name"],
                        "status": d["status"],
                        "tags": d["tags"],
                        "vpc_uuid": d["vpc_uuid"],
                        "public_ip": d["_public_ip"],
                        "private_ip": d["_private_ip"],
                        "lab_error": d["_lab_error"],
                    }
                    for d in self.droplets.values()
                ],
                "vpcs": [self.public(v) for v in self.vpcs.values()],
                "firewalls": [self.public(f) for f in self.firewalls.values()],
                "ssh_keys": list(self.keys.values()),
                "tags": sorted(self.tags),
                "api_calls": {"total": self.calls_total, "by_route": dict(self.calls)},
                "faults": self.options.faults(),
            }
