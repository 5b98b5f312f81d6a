"""The simulator's in-memory cloud: what exists, and the rules of the real API about it."""

import base64
import binascii
import hashlib
import ipaddress
import re
import threading
import time
import uuid

from lab.docsim import billing, catalog, droplets
from lab.docsim.droplets import TAG_NAME, now_iso
from lab.docsim.errors import ApiError, not_found, unprocessable
from lab.docsim.firewall_rules import checked_rules

# With lab hosts, droplets' public addresses live on the lab bridge (198.18.0.0/15, made by
# lab.hosts). Without them nothing answers at a droplet's address, so it is a loopback address:
# an SSH attempt is refused on this machine at once instead of leaving it by the default route.
PUBLIC_NET = ipaddress.ip_network("198.18.0.0/15")
PUBLIC_GATEWAY = "198.18.0.1"
OFFLINE_PUBLIC_NET = ipaddress.ip_network("127.18.0.0/16")
OFFLINE_PUBLIC_GATEWAY = "127.18.0.1"
VPC_POOL = ipaddress.ip_network("10.96.0.0/11")  # /20 VPC ranges are carved from here


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
            self.meter = billing.Meter()
            self.vpcs: dict[str, dict] = {}
            self.firewalls: dict[str, dict] = {}
            self.keys: dict[int, dict] = {}
            self.tags: dict[str, dict] = {}
            self.actions: dict[int, dict] = {}
            self.next_id = {"droplet": 300000001, "key": 4000001, "action": 2000000001}
            self.used_public: set[str] = set()
            self.calls_total = 0
            self.refused: dict[str, int] = {}  # 429s from the rate limits, by limit
            self.calls: dict[str, int] = {}
            # droplet id -> monotonic time its lab host was ready
            self.booted: dict[int, float] = {}
            # Droplets still `new` and actions still in progress: what the clock moves on.
            self.booting: set[int] = set()
            self.running_actions: set[int] = set()
            # Deleted droplets still counted as their VPC's members: (vpc id, member, until).
            self.lingering: list[tuple[str, dict, float]] = []

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
        tagged = [d for d in self.droplets.values() if name in d["tags"]]
        droplets = {"count": len(tagged)}
        if tagged:
            # The contract's last_tagged_uri is a string: absent (not null) when nothing is.
            droplets["last_tagged_uri"] = f"/v2/droplets/{tagged[-1]['id']}"
        nothing = {"count": 0}
        return {
            "name": name,
            "resources": {
                **droplets,
                "droplets": droplets,
                "images": nothing,
                "volumes": nothing,
                "volume_snapshots": nothing,
                "databases": nothing,
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
            # A null description (python-digitalocean sends one) is stored as the empty string
            # the contract's `description: string` allows.
            "description": body.get("description") or "",
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
        if self.vpc_members(vpc_id):
            # DigitalOcean's answer (403, not 409), also for members whose droplets were
            # deleted moments ago and linger.
            raise ApiError(403, "forbidden", "Cannot delete a VPC with members")
        del self.vpcs[vpc_id]

    def vpc_members(self, vpc_id) -> list[dict]:
        live = [
            {"urn": f"do:droplet:{d['id']}", "name": d["name"], "created_at": d["created_at"]}
            for d in self.droplets.values()
            if d["vpc_uuid"] == vpc_id
        ]
        return live + [member for vpc, member, _ in self.lingering if vpc == vpc_id]

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

    def _public_keys(self, body) -> list[str]:
        return [self.key(ref)["public_key"] for ref in body.get("ssh_keys") or []]

    def create_droplets(self, body) -> list[tuple[dict, dict]]:
        """The droplets and each one's `create` action (a multi-create has one per droplet)."""
        names = droplets.validate(self, body)
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
            droplet = droplets.record(
                droplet_id, name, body, size, image, vpc, public, private, self._public_keys(body)
            )
            self.droplets[droplet_id] = droplet
            self.meter.started(droplet_id, size)
            self.booting.add(droplet_id)
            created.append((droplet, self.new_action("create", droplet_id, body["region"])))
        return created

    # -- the clock: what happens by itself, whoever asks ------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Move everything whose time has come: droplets `new` -> `active`, actions done,
        deleted droplets' VPC memberships released. Run before every request is answered,
        so every endpoint sees the same world, however often (or not) anyone polled."""
        now = time.monotonic() if now is None else now
        for droplet_id in sorted(self.booting):
            self._boot(self.droplets[droplet_id], now)
        for action_id in sorted(self.running_actions):
            self._progress(self.actions[action_id], now)
        self.lingering = [entry for entry in self.lingering if entry[2] > now]

    def _boot(self, droplet, now) -> None:
        if self.options.never_active and self.options.never_active in droplet["name"]:
            return
        if now - droplet["_created"] < self.options.boot_delay:
            return
        if self.lab_hosts is not None and droplet["id"] not in self.booted:
            return
        droplet["status"] = "active"
        droplet["networks"]["v4"] = droplets.v4_networks(droplet, self)
        self.booting.discard(droplet["id"])

    def _progress(self, action, now) -> None:
        droplet = self.droplets.get(action["resource_id"])
        if action["type"] == "create":
            # A create action ends when its droplet is up (or is gone: deleted while new).
            if droplet is not None and droplet["status"] == "new":
                return
            action["status"] = "completed"
        elif action.get("_lab"):
            return  # done to a vm droplet's guest: lab_action_done() completes it
        elif now - action["_started"] < self.options.action_delay:
            return
        elif self.options.errored_actions:
            action["status"] = "errored"
        else:
            action["status"] = "completed"
            if droplet is not None:
                if action["type"] in ("power_off", "shutdown"):
                    droplet["status"] = "off"
                elif action["type"] in ("power_on", "reboot", "power_cycle"):
                    droplet["status"] = "active"
        action["completed_at"] = now_iso()
        self.running_actions.discard(action["id"])

    def lab_action_done(self, action_id: int, status: str | None) -> None:
        """A power action the lab did to a guest ended: `status` is what the droplet is now
        ("off", "active"), None when the action failed."""
        action = self.actions[action_id]
        droplet = self.droplets.get(action["resource_id"])
        action["status"] = "completed" if status else "errored"
        action["completed_at"] = now_iso()
        self.running_actions.discard(action_id)
        if droplet is not None and status:
            droplet["status"] = status

    def delete_droplet(self, droplet_id):
        droplet = self.droplet(droplet_id)
        del self.droplets[droplet["id"]]
        self.meter.ended(droplet["id"])
        self.booting.discard(droplet["id"])
        self.used_public.discard(droplet["_public_ip"])
        self.booted.pop(droplet["id"], None)
        for firewall in self.firewalls.values():
            if droplet["id"] in firewall["droplet_ids"]:
                firewall["droplet_ids"].remove(droplet["id"])
        member = {
            "urn": f"do:droplet:{droplet['id']}",
            "name": droplet["name"],
            "created_at": droplet["created_at"],
        }
        until = time.monotonic() + self.options.vpc_member_linger
        self.lingering.append((droplet["vpc_uuid"], member, until))
        return droplet

    # -- actions ---------------------------------------------------------------------------
    def new_action(self, action_type, droplet_id, region) -> dict:
        action = {
            "id": self._id("action"),
            "status": "in-progress",
            "type": action_type,
            "started_at": now_iso(),
            "completed_at": None,
            "resource_id": droplet_id,
            "resource_type": "droplet",
            "region": catalog.region(region),
            "region_slug": region,
            "_started": time.monotonic(),
        }
        self.actions[action["id"]] = action
        self.running_actions.add(action["id"])
        return action

    # -- firewalls -------------------------------------------------------------------------
    def firewall(self, firewall_id) -> dict:
        if firewall_id not in self.firewalls:
            raise not_found()
        return self.firewalls[firewall_id]

    def create_firewall(self, body) -> dict:
        if not body.get("name"):
            raise unprocessable("Name is required")
        rules = checked_rules(body)
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
            "inbound_rules": rules.get("inbound_rules", []),
            "outbound_rules": rules.get("outbound_rules", []),
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
            self.tick()
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
                "vpc_members_lingering": len(self.lingering),
                "api_calls": {
                    "total": self.calls_total,
                    "by_route": dict(self.calls),
                    "rate_limited": dict(self.refused),
                },
                "faults": self.options.faults(),
            }
