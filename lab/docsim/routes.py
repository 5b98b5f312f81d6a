"""The API's routes: one function per operation, answering (status, body) from the Cloud.

Each route is registered with the operation's method and path pattern (groups are the path
parameters, percent-decoded before the function sees them: a key's fingerprint arrives as
`ab%3Acd...`). Functions run under the Cloud's lock, after the clock has moved (Cloud.tick).
"""

import re

from lab.docsim import catalog
from lab.docsim.errors import not_found, unprocessable
from lab.docsim.firewall_rules import checked_rules

ROUTES = []


def route(method, pattern):
    def register(func):
        ROUTES.append((method, re.compile(f"^{pattern}$"), pattern, func))
        return func

    return register


@route("GET", "/v2/account")
def get_account(h, cloud, query, body):
    return 200, {
        "account": {
            "droplet_limit": 25,
            "floating_ip_limit": 3,
            "volume_limit": 100,
            "email": h.server.options.email,
            "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
            "email_verified": True,
            "status": "active",
            "status_message": "",
            "team": {"uuid": "5df3e3004a17e242b7c20ca6c9fc25b701a47ece", "name": "Lab Team"},
        }
    }


@route("GET", "/v2/customers/my/balance")
def get_balance(h, cloud, query, body):
    # The lab has one account: every token the simulator accepts sees the same balance.
    return 200, cloud.meter.balance()


@route("GET", "/v2/regions")
def list_regions(h, cloud, query, body):
    return h.paginate("regions", [catalog.region(s) for s in catalog.REGIONS], query)


@route("GET", "/v2/sizes")
def list_sizes(h, cloud, query, body):
    return h.paginate("sizes", catalog.sizes(), query)


@route("GET", "/v2/images")
def list_images(h, cloud, query, body):
    return h.paginate("images", catalog.images(), query)


@route("GET", "/v2/images/([^/]+)")
def get_image(h, cloud, query, body, ref):
    image = catalog.image(ref)
    if image is None:
        raise not_found()
    return 200, {"image": image}


@route("GET", "/v2/account/keys")
def list_keys(h, cloud, query, body):
    return h.paginate("ssh_keys", list(cloud.keys.values()), query)


@route("POST", "/v2/account/keys")
def create_key(h, cloud, query, body):
    return 201, {"ssh_key": cloud.create_key(body)}


@route("GET", "/v2/account/keys/([^/]+)")
def get_key(h, cloud, query, body, ref):
    return 200, {"ssh_key": cloud.key(ref)}


@route("PUT", "/v2/account/keys/([^/]+)")
def update_key(h, cloud, query, body, ref):
    key = cloud.key(ref)
    if body.get("name"):
        key["name"] = body["name"]
    return 200, {"ssh_key": key}


@route("DELETE", "/v2/account/keys/([^/]+)")
def delete_key(h, cloud, query, body, ref):
    del cloud.keys[cloud.key(ref)["id"]]
    return 204, None


@route("GET", "/v2/tags")
def list_tags(h, cloud, query, body):
    return h.paginate("tags", [cloud.tag_view(n) for n in cloud.tags], query)


@route("POST", "/v2/tags")
def create_tag(h, cloud, query, body):
    cloud.ensure_tag(body.get("name"))
    return 201, {"tag": cloud.tag_view(body["name"])}


@route("GET", "/v2/tags/([^/]+)")
def get_tag(h, cloud, query, body, name):
    if name not in cloud.tags:
        raise not_found()
    return 200, {"tag": cloud.tag_view(name)}


@route("DELETE", "/v2/tags/([^/]+)")
def delete_tag(h, cloud, query, body, name):
    if name not in cloud.tags:
        raise not_found()
    del cloud.tags[name]
    for droplet in cloud.droplets.values():
        if name in droplet["tags"]:
            droplet["tags"].remove(name)
    return 204, None


def _tag_resources(cloud, name, body, add):
    if name not in cloud.tags:
        if not add:
            raise not_found()
        cloud.ensure_tag(name)
    for resource in body.get("resources") or []:
        if resource.get("resource_type") != "droplet":
            raise unprocessable("only droplet resources are supported here")
        droplet = cloud.droplet(resource.get("resource_id"))
        if add and name not in droplet["tags"]:
            droplet["tags"].append(name)
        elif not add and name in droplet["tags"]:
            droplet["tags"].remove(name)
    return 204, None


@route("POST", "/v2/tags/([^/]+)/resources")
def tag_resources(h, cloud, query, body, name):
    return _tag_resources(cloud, name, body, True)


@route("DELETE", "/v2/tags/([^/]+)/resources")
def untag_resources(h, cloud, query, body, name):
    return _tag_resources(cloud, name, body, False)


@route("GET", "/v2/vpcs")
def list_vpcs(h, cloud, query, body):
    return h.paginate("vpcs", [cloud.public(v) for v in cloud.vpcs.values()], query)


@route("POST", "/v2/vpcs")
def create_vpc(h, cloud, query, body):
    return 201, {"vpc": cloud.public(cloud.create_vpc(body))}


@route("GET", "/v2/vpcs/([0-9a-f-]+)")
def get_vpc(h, cloud, query, body, vpc_id):
    return 200, {"vpc": cloud.public(cloud.vpc(vpc_id))}


def _update_vpc(cloud, vpc_id, body):
    vpc = cloud.vpc(vpc_id)
    if body.get("name"):
        vpc["name"] = body["name"]
    if "description" in body:
        vpc["description"] = body["description"] or ""
    if body.get("default") is True and not vpc["default"]:
        for other in cloud.vpcs.values():
            if other["region"] == vpc["region"]:
                other["default"] = False
        vpc["default"] = True
    return 200, {"vpc": cloud.public(vpc)}


@route("PUT", "/v2/vpcs/([0-9a-f-]+)")
def put_vpc(h, cloud, query, body, vpc_id):
    return _update_vpc(cloud, vpc_id, body)


@route("PATCH", "/v2/vpcs/([0-9a-f-]+)")
def patch_vpc(h, cloud, query, body, vpc_id):
    return _update_vpc(cloud, vpc_id, body)


@route("DELETE", "/v2/vpcs/([0-9a-f-]+)")
def delete_vpc(h, cloud, query, body, vpc_id):
    cloud.delete_vpc(vpc_id)
    return 204, None


@route("GET", "/v2/vpcs/([0-9a-f-]+)/members")
def vpc_members(h, cloud, query, body, vpc_id):
    cloud.vpc(vpc_id)
    return h.paginate("members", cloud.vpc_members(vpc_id), query)


@route("GET", "/v2/droplets")
def list_droplets(h, cloud, query, body):
    droplets = list(cloud.droplets.values())
    if query.get("tag_name"):
        droplets = [d for d in droplets if query["tag_name"] in d["tags"]]
    return h.paginate("droplets", [cloud.public(d) for d in droplets], query)


@route("POST", "/v2/droplets")
def create_droplets(h, cloud, query, body):
    created = cloud.create_droplets(body)
    for droplet, _ in created:
        h.server.start_lab_host(droplet)
    # One create action per droplet, as DigitalOcean links them.
    links = {
        "actions": [
            {"id": a["id"], "rel": "create", "href": f"{h.server.url}/v2/actions/{a['id']}"}
            for _, a in created
        ]
    }
    droplets = [cloud.public(d) for d, _ in created]
    if "names" in body:
        return 202, {"droplets": droplets, "links": links}
    return 202, {"droplet": droplets[0], "links": links}


@route("GET", "/v2/droplets/([0-9]+)")
def get_droplet(h, cloud, query, body, droplet_id):
    return 200, {"droplet": cloud.public(cloud.droplet(droplet_id))}


@route("DELETE", "/v2/droplets/([0-9]+)")
def delete_droplet(h, cloud, query, body, droplet_id):
    droplet = cloud.delete_droplet(droplet_id)
    h.server.stop_lab_host(droplet["id"])
    return 204, None


@route("DELETE", "/v2/droplets")
def delete_droplets_by_tag(h, cloud, query, body):
    tag = query.get("tag_name")
    if not tag:
        raise unprocessable("tag_name is required to delete droplets in bulk")
    for droplet in [d for d in cloud.droplets.values() if tag in d["tags"]]:
        cloud.delete_droplet(droplet["id"])
        h.server.stop_lab_host(droplet["id"])
    return 204, None


ACTION_TYPES = {"power_off", "power_on", "shutdown", "reboot", "power_cycle"}


@route("POST", "/v2/droplets/([0-9]+)/actions")
def droplet_action(h, cloud, query, body, droplet_id):
    droplet = cloud.droplet(droplet_id)
    if body.get("type") not in ACTION_TYPES:
        raise unprocessable(
            f"Action type {body.get('type')!r} is not supported; use one of "
            + ", ".join(sorted(ACTION_TYPES))
        )
    action = cloud.new_action(body["type"], droplet["id"], droplet["region"]["slug"])
    h.server.lab_power(droplet, action)
    return 201, {"action": cloud.public(action)}


@route("GET", "/v2/droplets/([0-9]+)/actions")
def droplet_actions(h, cloud, query, body, droplet_id):
    droplet = cloud.droplet(droplet_id)
    actions = [a for a in cloud.actions.values() if a["resource_id"] == droplet["id"]]
    return h.paginate("actions", [cloud.public(a) for a in actions], query)


@route("GET", "/v2/actions")
def list_actions(h, cloud, query, body):
    return h.paginate("actions", [cloud.public(a) for a in cloud.actions.values()], query)


@route("GET", "/v2/actions/([0-9]+)")
def get_action(h, cloud, query, body, action_id):
    action = cloud.actions.get(int(action_id))
    if action is None:
        raise not_found()
    return 200, {"action": cloud.public(action)}


@route("GET", "/v2/firewalls")
def list_firewalls(h, cloud, query, body):
    return h.paginate("firewalls", [cloud.public(f) for f in cloud.firewalls.values()], query)


@route("POST", "/v2/firewalls")
def create_firewall(h, cloud, query, body):
    return 202, {"firewall": cloud.public(cloud.create_firewall(body))}


@route("GET", "/v2/firewalls/([0-9a-f-]+)")
def get_firewall(h, cloud, query, body, firewall_id):
    return 200, {"firewall": cloud.public(cloud.firewall(firewall_id))}


@route("PUT", "/v2/firewalls/([0-9a-f-]+)")
def put_firewall(h, cloud, query, body, firewall_id):
    firewall = cloud.firewall(firewall_id)
    rules = checked_rules(body)
    if not body.get("name"):
        raise unprocessable("Name is required")
    # PUT replaces the firewall: what the body leaves out is emptied.
    firewall["name"] = body["name"]
    firewall["inbound_rules"] = rules.get("inbound_rules", [])
    firewall["outbound_rules"] = rules.get("outbound_rules", [])
    firewall["droplet_ids"] = [cloud.droplet(d)["id"] for d in body.get("droplet_ids") or []]
    for tag in body.get("tags") or []:
        cloud.ensure_tag(tag)
    firewall["tags"] = list(body.get("tags") or [])
    return 200, {"firewall": cloud.public(firewall)}


@route("DELETE", "/v2/firewalls/([0-9a-f-]+)")
def delete_firewall(h, cloud, query, body, firewall_id):
    cloud.firewall(firewall_id)
    del cloud.firewalls[firewall_id]
    return 204, None


def _firewall_members(cloud, firewall_id, body, key, add):
    firewall = cloud.firewall(firewall_id)
    values = body.get(key) or []
    if key == "droplet_ids":
        values = [cloud.droplet(v)["id"] for v in values]
    for value in values:
        if add and value not in firewall[key]:
            firewall[key].append(value)
        elif not add and value in firewall[key]:
            firewall[key].remove(value)
    return 204, None


@route("POST", "/v2/firewalls/([0-9a-f-]+)/droplets")
def firewall_add_droplets(h, cloud, query, body, firewall_id):
    return _firewall_members(cloud, firewall_id, body, "droplet_ids", True)


@route("DELETE", "/v2/firewalls/([0-9a-f-]+)/droplets")
def firewall_remove_droplets(h, cloud, query, body, firewall_id):
    return _firewall_members(cloud, firewall_id, body, "droplet_ids", False)


@route("POST", "/v2/firewalls/([0-9a-f-]+)/tags")
def firewall_add_tags(h, cloud, query, body, firewall_id):
    return _firewall_members(cloud, firewall_id, body, "tags", True)


@route("DELETE", "/v2/firewalls/([0-9a-f-]+)/tags")
def firewall_remove_tags(h, cloud, query, body, firewall_id):
    return _firewall_members(cloud, firewall_id, body, "tags", False)


def _rules(cloud, firewall_id, body, add):
    firewall = cloud.firewall(firewall_id)
    rules = checked_rules(body)
    for key in ("inbound_rules", "outbound_rules"):
        for rule in rules.get(key, []):
            if add:
                firewall[key].append(rule)
            elif rule in firewall[key]:
                firewall[key].remove(rule)
    return 204, None


@route("POST", "/v2/firewalls/([0-9a-f-]+)/rules")
def firewall_add_rules(h, cloud, query, body, firewall_id):
    return _rules(cloud, firewall_id, body, True)


@route("DELETE", "/v2/firewalls/([0-9a-f-]+)/rules")
def firewall_remove_rules(h, cloud, query, body, firewall_id):
    return _rules(cloud, firewall_id, body, False)
