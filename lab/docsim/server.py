"""HTTP front of the simulator: auth, rate limits, faults, the clock, routing, recording."""

import json
import math
import random
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlparse

from lab.docsim.errors import ApiError, not_found, unprocessable
from lab.docsim.lab_firewalls import LabFirewalls
from lab.docsim.ratelimit import RateLimiter
from lab.docsim.routes import ROUTES
from lab.docsim.state import Cloud


@dataclass(frozen=True)
class Exchange:
    """One API request and the simulator's answer, as they went over the wire (for the
    contract check: lab/docsim/contract)."""

    method: str
    target: str  # path and query, as sent (percent-encoded)
    request_body: bytes
    status: int
    headers: dict  # lower-case names
    body: object  # the decoded JSON answer, or None when there was none


TOO_MANY = "API Rate limit exceeded."


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
        request = getattr(self, "_api_request", None)
        if request is not None:
            self._api_request = None
            exchange = Exchange(
                method=request[0],
                target=self.path,
                request_body=request[1],
                status=status,
                headers={k.lower(): str(v) for k, v in (headers or {}).items()},
                body=body,
            )
            for observer in list(self.server.observers):
                observer(exchange)

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

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    @staticmethod
    def _json_body(raw: bytes) -> dict:
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
        raw = self._raw_body()
        if url.path.startswith("/_sim/"):
            try:
                body = self._json_body(raw)
            except ApiError as exc:
                return self._error(exc)
            return self._control(method, url.path, body)
        self._api_request = (method, raw)
        self._api(method, url.path.rstrip("/") or "/", query, raw)

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
        if path == "/_sim/spend" and method == "POST":
            # Another client of the token made this many requests just now.
            try:
                self.server.limiter.spend(str(body["token"]), int(body["requests"]))
            except (KeyError, ValueError, TypeError):
                return self._send(400, {"id": "bad_request", "message": "token and requests"})
            return self._send(200, self.server.limiter.peek(str(body["token"])).headers())
        if path == "/_sim/reset" and method == "POST":
            self.server.reset()
            return self._send(200, {"reset": True})
        return self._send(404, {"id": "not_found", "message": "unknown control endpoint"})

    # -- the API --------------------------------------------------------------------------
    def _api(self, method, path, query, raw):
        options, cloud, limiter = self.server.options, self.server.cloud, self.server.limiter
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token not in options.tokens:
            # Not counted (no account to charge), but answered with the headers all the same.
            return self._error(
                ApiError(401, "unauthorized", "Unable to authenticate you"),
                limiter.peek(token).headers(),
            )
        verdict = limiter.take(token, listing_keys=(method, path) == ("GET", "/v2/account/keys"))
        headers = verdict.headers()
        with cloud.lock:
            cloud.calls_total += 1
            number = cloud.calls_total
            if not verdict.allowed:
                cloud.refused[verdict.why] = cloud.refused.get(verdict.why, 0) + 1
        if not verdict.allowed:
            return self._error(ApiError(429, "too_many_requests", TOO_MANY), headers)
        if options.fault_429_every and number % options.fault_429_every == 0:
            headers["retry-after"] = options.retry_after
            return self._error(ApiError(429, "too_many_requests", TOO_MANY), headers)
        if (options.fault_5xx_every and number % options.fault_5xx_every == 0) or (
            options.fault_5xx_rate and self.server.random.random() < options.fault_5xx_rate
        ):
            return self._error(
                ApiError(500, "server_error", "Server was unable to give you a response."), headers
            )
        try:
            body = self._json_body(raw) if method != "GET" else {}
        except ApiError as exc:
            return self._error(exc, headers)
        for route_method, regex, template, func in ROUTES:
            match = regex.match(path)
            if match and route_method == method:
                params = [unquote(group) for group in match.groups()]
                try:
                    with cloud.lock:
                        cloud.calls[f"{method} {template}"] = (
                            cloud.calls.get(f"{method} {template}", 0) + 1
                        )
                        cloud.tick()
                        status, payload = func(self, cloud, query, body, *params)
                except ApiError as exc:
                    return self._error(exc, headers)
                if method != "GET":
                    # Before the answer: whoever got it finds the lab hosts' ports as it says.
                    self.server.sync_lab_firewalls()
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
            if options.vm_droplets:
                from lab.droplets.fleet import LabFleet

                self.lab_hosts = LabFleet(self.lab_hosts)
        self.cloud = Cloud(options, self.lab_hosts)
        self.lab_firewalls = (
            LabFirewalls(self.cloud, self.lab_hosts) if self.lab_hosts is not None else None
        )
        self.ca_file = None
        if options.tls:
            from lab.docsim.tls import make_certificate, server_context

            self.ca_file = make_certificate(options.host)
            self.socket = server_context(self.ca_file).wrap_socket(self.socket, server_side=True)
        self.limiter = RateLimiter(options)
        # Callables given every Exchange (RunningSimulator.record: the contract check).
        self.observers: list = []
        self.random = random.Random(options.seed)  # noqa: S311 - fault injection, not security

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.options.tls else 'http'}://{host}:{port}"

    def sync_lab_firewalls(self) -> None:
        if self.lab_firewalls is not None:
            self.lab_firewalls.sync()

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
            "image": droplet["image"]["slug"],
            "region": droplet["region"]["slug"],
            "vcpus": droplet["vcpus"],
            "memory": droplet["memory"],
            "disk": droplet["disk"],
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
                alive = args["droplet_id"] in self.cloud.droplets
                if alive:
                    self.cloud.booted[args["droplet_id"]] = time.monotonic()
            if alive:
                # The firewalls already covering the droplet (by its tags) apply from the start.
                self.lab_firewalls.forget(args["droplet_id"])
                self.sync_lab_firewalls()
                return
            # Deleted while booting: do not leave the host behind.
            self.lab_hosts.destroy(args["droplet_id"])

        threading.Thread(target=boot, name=f"lab-host-{droplet['id']}", daemon=True).start()

    def lab_power(self, droplet, action):
        """A power action on a droplet that has power of its own (a vm droplet): done to
        the guest in the background; the action completes, and the droplet's status follows,
        when the guest is off or answers SSH again. Called under the cloud's lock."""
        handles = getattr(self.lab_hosts, "handles_power", None)
        if handles is None or not handles(droplet["id"]):
            return
        action["_lab"] = True
        if action["type"] in ("power_cycle", "reboot", "power_off"):
            droplet["status"] = "off"
        droplet_id, action_id, kind = droplet["id"], action["id"], action["type"]

        def act():
            try:
                status = self.lab_hosts.power(droplet_id, kind)
            except Exception as exc:  # noqa: BLE001 - reported in the action and the state
                sys.stderr.write(f"docsim: {kind} on droplet {droplet_id} failed: {exc}\n")
                status = None
            with self.cloud.lock:
                self.cloud.lab_action_done(action_id, status)

        threading.Thread(target=act, name=f"lab-power-{droplet_id}", daemon=True).start()

    def stop_lab_host(self, droplet_id):
        if self.lab_hosts is not None:
            self.lab_hosts.destroy(droplet_id)

    def reset(self):
        if self.lab_hosts is not None:
            self.lab_hosts.destroy_all()
        self.cloud.reset()
        self.limiter.reset()
        if self.lab_firewalls is not None:
            self.lab_firewalls.reset()

    def server_close(self):
        super().server_close()
        if self.lab_hosts is not None:
            self.lab_hosts.destroy_all()
