"""HTTP front of the simulator: auth, rate limits, faults, pagination, routing."""

import json
import math
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from lab.docsim import catalog
from lab.docsim.state import ApiError, Cloud, not_found, unprocessable

ROUTES = []


def route(method, pattern):
    def register(func):
        ROUTES.append((method, re.compile(f"^{pattern}$"), pattern, func))
        return func

    return register


class RateLimiter:
    """Per-token budget per minute, as DigitalOcean's `ratelimit-*` headers describe it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.windows: dict[str, tuple[int, int]] = {}

    def take(self, token: str, limit: int) -> tuple[bool, int, int]:
        window = int(time.time() // 60)
        with self.lock:
            start, used = self.windows.get(token, (window, 0))
            if start != window:
                start, used = window, 0
            allowed = used < limit
            if allowed:
                used += 1
            self.windows[token] = (start, used)
        return allowed, max(0, limit - used), (window + 1) * 60


class Handler(BaseHTTPRequestHandler):
    server_version = "docsim/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.server.verbose:
            sys.stderr.write("docsim: " + format % args + "\n")

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, status, body=None, headers=None):
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _error(self, exc: ApiError, headers=None):
        self._send(
            exc.status,
            {
                "id": exc.error_id,
                "message": exc.message,
                "request_id": f"sim-{random.getrandbits(48):x}",
            },
            headers,
        )

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "bad_request", "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "The request body must be a JSON object")
        return body

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method):
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else {}
        except ApiError as exc:
            return self._error(exc)
        if url.path.startswith("/_sim/"):
            return self._control(method, url.path, body)
        self._api(method, url.path.rstrip("/") or "/", query, body)

    # -- the control plane (not the API: no auth, no faults, not counted) -----------------
    def _control(self, method, path, body):
        cloud: Cloud = self.server.cloud
        options = self.server.options
        if path == "/_sim/state" and method == "GET":
            return self._send(200, cloud.snapshot())
        if path == "/_sim/faults" and method == "GET":
            return self._send(200, options.faults())
        if path == "/_sim/faults" and method == "POST":
            try:
                options.set_faults(**body)
            except (ValueError, TypeError) as exc:
                return self._send(400, {"id": "bad_request", "message": str(exc)})
            return self._send(200, options.faults())
        if path == "/_sim/reset" and method == "POST":
            self.server.reset()
            return self._send(200, {"reset": True})
        return self._send(404, {"id": "not_found", "message": "unknown control endpoint"})

    # -- the API --------------------------------------------------------------------------
    def _api(self, method, path, query, body):
        options, cloud = self.server.options, self.server.cloud
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token not in options.tokens:
            return self._error(ApiError(401, "unauthorized", "Unable to authenticate you"))
        allowed, remaining, reset = self.server.limiter.take(token, options.rate_limit)
        headers = {
            "ratelimit-limit": options.rate_limit,
            "ratelimit-remaining": remaining,
            "ratelimit-reset": reset,
        }
        with cloud.lock:
            cloud.calls_total += 1
            number = cloud.calls_total
        if not allowed:
            headers["Retry-After"] = max(1, int(reset - time.time()))
            return self._error(
                ApiError(429, "too_many_requests", "API Rate limit exceeded."), headers
            )
        if options.fault_429_every and number % options.fault_429_every == 0:
            headers["Retry-After"] = options.retry_after
            return self._error(
                ApiError(429, "too_many_requests", "API Rate limit exceeded."), headers
            )
        if (options.fault_5xx_every and number % options.fault_5xx_every == 0) or (
            options.fault_5xx_rate and self.server.random.random() < options.fault_5xx_rate
        ):
            return self._error(
                ApiError(500, "server_error", "Server was unable to give you a response."), headers
            )
        for route_method, regex, template, func in ROUTES:
            match = regex.match(path)
            if match and route_method == method:
                with cloud.lock:
                    cloud.calls[f"{method} {template}"] = (
                        cloud.calls.get(f"{method} {template}", 0) + 1
                    )
                try:
                    with cloud.lock:
                        status, payload = func(self, cloud, query, body, *match.groups())
                except ApiError as exc:
                    return self._error(exc, headers)
                return self._send(status, payload, headers)
        return self._error(not_found(), headers)

    # -- helpers for routes ---------------------------------------------------------------
    def paginate(self, key, items, query):
        try:
            per_page = min(200, max(1, int(query.get("per_page", 20))))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            raise unprocessable("page and per_page must be integers") from None
        total = len(items)
        last = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        scheme = "https" if self.server.options.tls else "http"
        base = f"{scheme}://{self.headers.get('Host')}{urlparse(self.path).path}"

        def link(number):
            return base + "?" + urlencode({**query, "page": number, "per_page": per_page})

        pages = {}
        if page > 1:
            pages.update(first=link(1), prev=link(page - 1))
        if page < last:
            pages.update(next=link(page + 1), last=link(last))
        return 200, {key: chunk, "links": {"pages": pages}, "meta": {"total": total}}


# -- routes ------------------------------------------------------------------------------------
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
    for key in ("name", "description"):
        if key in body:
            vpc[key] = body[key]
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
    members = [
        {"urn": f"do:droplet:{d['id']}", "name": d["name"], "created_at": d["created_at"]}
        for d in cloud.droplets.values()
        if d["vpc_uuid"] == vpc_id
    ]
    return h.paginate("members", members, query)


@route("GET", "/v2/droplets")
def list_droplets(h, cloud, query, body):
    droplets = list(cloud.droplets.values())
    if query.get("tag_name"):
        droplets = [d for d in droplets if query["tag_name"] in d["tags"]]
    for droplet in droplets:
        cloud.refresh_status(droplet)
    return h.paginate("droplets", [cloud.public(d) for d in droplets], query)


@route("POST", "/v2/droplets")
def create_droplets(h, cloud, query, body):
    created, action = cloud.create_droplets(body)
    for droplet in created:
        h.server.start_lab_host(droplet)
    links = {
        "actions": [
            {
                "id": action["id"],
                "rel": "create",
                "href": f"{h.server.url}/v2/actions/{action['id']}",
            }
        ]
    }
    if "names" in body:
        return 202, {"droplets": [cloud.public(d) for d in created], "links": links}
    return 202, {"droplet": cloud.public(created[0]), "links": links}


@route("GET", "/v2/droplets/([0-9]+)")
def get_droplet(h, cloud, query, body, droplet_id):
    droplet = cloud.droplet(droplet_id)
    cloud.refresh_status(droplet)
    return 200, {"droplet": cloud.public(droplet)}


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
    return 201, {"action": cloud.public(action)}


@route("GET", "/v2/droplets/([0-9]+)/actions")
def droplet_actions(h, cloud, query, body, droplet_id):
    droplet = cloud.droplet(droplet_id)
    actions = [a for a in cloud.actions.values() if a["resource_id"] == droplet["id"]]
    for action in actions:
        cloud.refresh_action(action)
    return h.paginate("actions", [cloud.public(a) for a in actions], query)


@route("GET", "/v2/actions")
def list_actions(h, cloud, query, body):
    for action in cloud.actions.values():
        cloud.refresh_action(action)
    return h.paginate("actions", [cloud.public(a) for a in cloud.actions.values()], query)


@route("GET", "/v2/actions/([0-9]+)")
def get_action(h, cloud, query, body, action_id):
    action = cloud.actions.get(int(action_id))
    if action is None:
        raise not_found()
    cloud.refresh_action(action)
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
    cloud._check_rules(body)
    if not body.get("name"):
        raise unprocessable("Name is required")
    for key in ("name", "inbound_rules", "outbound_rules", "tags", "droplet_ids"):
        if key in body:
            firewall[key] = body[key] or []
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
    cloud._check_rules(body)
    for key in ("inbound_rules", "outbound_rules"):
        for rule in body.get(key) or []:
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


# -- the server --------------------------------------------------------------------------------
class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, options, lab_hosts=None, verbose=False):
        super().__init__((options.host, options.port), Handler)
        self.options = options
        self.verbose = verbose
        self.lab_hosts = lab_hosts
        if lab_hosts is None and options.lab:
            from lab.hosts import LabHosts

            self.lab_hosts = LabHosts()
        self.cloud = Cloud(options, self.lab_hosts)
        self.ca_file = None
        if options.tls:
            from lab.docsim.tls import make_certificate, server_context

            self.ca_file = make_certificate(options.host)
            self.socket = server_context(self.ca_file).wrap_socket(self.socket, server_side=True)
        self.limiter = RateLimiter()
        self.random = random.Random(options.seed)  # noqa: S311 - fault injection, not security

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.options.tls else 'http'}://{host}:{port}"

    def start_lab_host(self, droplet):
        if self.lab_hosts is None:
            return
        private_prefix = int(self.cloud.vpcs[droplet["vpc_uuid"]]["ip_range"].split("/")[1])
        args = {
            "droplet_id": droplet["id"],
            "name": droplet["name"],
            "public_ip": droplet["_public_ip"],
            "public_prefix": 15,
            "gateway": "198.18.0.1",
            "private_ip": droplet["_private_ip"],
            "private_prefix": private_prefix,
            "vpc_uuid": droplet["vpc_uuid"],
            "authorized_keys": list(droplet["_ssh_keys"]),
            "user_data": droplet["_user_data"],
        }

        def boot():
            try:
                self.lab_hosts.create(**args)
            except Exception as exc:  # noqa: BLE001 - reported in the state, droplet stays new
                sys.stderr.write(
                    f"docsim: lab host for droplet {args['droplet_id']} failed: {exc}\n"
                )
                with self.cloud.lock:
                    if args["droplet_id"] in self.cloud.droplets:
                        self.cloud.droplets[args["droplet_id"]]["_lab_error"] = str(exc)
                return
            with self.cloud.lock:
                if args["droplet_id"] in self.cloud.droplets:
                    self.cloud.booted[args["droplet_id"]] = time.monotonic()
                    return
            # Deleted while booting: do not leave the host behind.
            self.lab_hosts.destroy(args["droplet_id"])

        threading.Thread(target=boot, name=f"lab-host-{droplet['id']}", daemon=True).start()

    def stop_lab_host(self, droplet_id):
        if self.lab_hosts is not None:
            self.lab_hosts.destroy(droplet_id)

    def reset(self):
        if self.lab_hosts is not None:
            self.lab_hosts.destroy_all()
        self.cloud.reset()

    def server_close(self):
        super().server_close()
        if self.lab_hosts is not None:
            self.lab_hosts.destroy_all()
