"""The DigitalOcean driver: every call the portal makes to DigitalOcean goes through here.

It uses python-digitalocean's request layer (`BaseAPI.get_data`: token handling, JSON, automatic
pagination) with one difference: requests go through a `requests.Session` owned by the driver, so
the endpoint, timeouts, retry policy and call counting apply to every method. (The library's
higher-level helpers such as `Droplet.create_multiple` and `Manager.get_account` build fresh
`BaseAPI` objects that ignore a custom `end_point`, which is why they are not used.)

Rate limits: the driver paces itself by the `ratelimit-*` headers (providers/drivers/pacing.py)
and the retry policy honours `retry-after` on a 429; `rate_limited` and `rate_limit_wait` say
what that cost, for the job log.
"""

import json
import logging
import threading
import time
from urllib.parse import quote, urljoin, urlparse

import requests
from digitalocean import __version__ as do_version
from digitalocean.baseapi import DELETE, GET, POST, PUT, BaseAPI
from django.conf import settings
from requests.adapters import HTTPAdapter

from core import metrics
from providers.drivers.errors import (
    AuthenticationError,
    NotFound,
    PermanentError,
    TransientError,
)
from providers.drivers.pacing import Pacer
from providers.drivers.retry import DigitalOceanRetry

log = logging.getLogger(__name__)

# DigitalOcean's own limit for POST /v2/droplets with `names`.
MAX_DROPLETS_PER_CREATE = 10


def error_from_response(response: requests.Response):
    """Turn an HTTP error response into the matching driver error, with DigitalOcean's message."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error_id = body.get("id")
    message = body.get("message") or response.reason or "no message"
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    kwargs = {"status": status, "error_id": error_id, "request_id": request_id}
    if status == 401:
        return AuthenticationError(f"{message} (the token is wrong, expired or revoked)", **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        hint = f"; retry after {retry_after} s" if retry_after else ""
        return TransientError(f"{message} (rate limit reached{hint})", **kwargs)
    if status >= 500:
        return TransientError(message, **kwargs)
    return PermanentError(message, **kwargs)


class _Transport(BaseAPI):
    """python-digitalocean's BaseAPI, sending through the driver's session."""

    def __init__(self, driver: "DigitalOceanDriver", token: str):
        super().__init__(token=token, end_point=driver.endpoint)
        self._driver = driver

    # BaseAPI.get_data calls the name-mangled private method; overriding it here is the one
    # seam that makes every request (pagination included) use our session and error classes.
    def _BaseAPI__perform_request(self, url, type=GET, params=None):  # noqa: A002
        return self._driver._send(self, urljoin(self.end_point, url), type, params or {})


class DigitalOceanDriver:
    def __init__(
        self,
        token: str,
        *,
        endpoint: str | None = None,
        timeout: tuple[float, float] | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        max_retry_after: float | None = None,
        pace: bool = True,
    ):
        if not token:
            raise AuthenticationError("no DigitalOcean token set for this provider")
        self.endpoint = endpoint or settings.DIGITALOCEAN_API_URL
        if not self.endpoint.endswith("/"):
            self.endpoint += "/"
        self.timeout = timeout or settings.DIGITALOCEAN_TIMEOUT
        self._lock = threading.Lock()
        self.api_calls = 0
        self.retried_calls = 0
        self.rate_limited = 0  # 429 answers
        self.rate_limit_wait = 0.0  # seconds waited for the rate limit: retry-after and pacing
        self.rate_limit_paced = 0.0  # the part of it spent pacing, before any 429
        self.ratelimit_remaining: int | None = None
        max_wait = (
            settings.DIGITALOCEAN_MAX_RETRY_AFTER if max_retry_after is None else max_retry_after
        )
        # A caller with a budget of its own (the drift check rests instead) does not pace.
        self._pacer = Pacer(settings.DIGITALOCEAN_PACE_BELOW if pace else 0, max_wait)
        retry = DigitalOceanRetry.build(
            retries=settings.DIGITALOCEAN_RETRIES if retries is None else retries,
            backoff=settings.DIGITALOCEAN_BACKOFF if backoff is None else backoff,
            max_retry_after=max_wait,
            on_retry=self._count_retry,
            on_wait=self._count_wait,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=32)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = f"edge-portal python-digitalocean/{do_version}"
        self._api = _Transport(self, token)

    def __repr__(self):
        return f"<DigitalOceanDriver {urlparse(self.endpoint).netloc}>"

    # -- transport ---------------------------------------------------------------------------
    def _count_retry(self, method, url, status):
        # An answer retried inside the adapter (429, 5xx) never reaches _send: counted here.
        metrics.count_digitalocean_response(method, url or "", status)
        with self._lock:
            self.api_calls += 1
            self.retried_calls += 1
            if status == 429:
                self.rate_limited += 1

    def _count_wait(self, seconds, status):
        if status == 429:
            with self._lock:
                self.rate_limit_wait += seconds

    def _send(self, api: BaseAPI, url: str, method: str, params: dict) -> requests.Response:
        headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
        kwargs = {"headers": headers, "timeout": self.timeout}
        if method == GET:
            kwargs["params"] = params
        elif params:
            kwargs["data"] = json.dumps(params)
        paced = self._pacer.wait()
        with self._lock:
            self.api_calls += 1
            self.rate_limit_wait += paced
            self.rate_limit_paced += paced
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            metrics.count_digitalocean_response(method, url, None)
            raise TransientError(f"no answer from {urlparse(url).netloc} in time: {exc}") from None
        except requests.ConnectionError as exc:
            metrics.count_digitalocean_response(method, url, None)
            raise TransientError(f"cannot reach {urlparse(url).netloc}: {exc}") from None
        self._pacer.observe(response.headers)
        metrics.count_digitalocean_response(method, url, response.status_code)
        remaining = response.headers.get("ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            self.ratelimit_remaining = int(remaining)
        if response.status_code == 429:  # the retries ran out (retried 429s count in _retry)
            with self._lock:
                self.rate_limited += 1
        log.debug("DigitalOcean %s %s -> %s", method, urlparse(url).path, response.status_code)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _call(self, path: str, method: str = GET, params: dict | None = None):
        return self._api.get_data(path, type=method, params=params)

    def _get_one(self, path: str) -> dict:
        """GET one object. Not through get_data, which adds `per_page` to every GET: the
        contract has no such parameter for single objects."""
        return self._send(self._api, urljoin(self.endpoint, path), GET, {}).json()

    def rate_limit_summary(self) -> str | None:
        """The job log's line on what the rate limits cost ("rate limited: 3 × 429, waited
        12.4 s"), or None when they cost nothing."""
        if not self.rate_limited and self.rate_limit_wait < 0.05:
            return None
        line = f"rate limited: {self.rate_limited} × 429, waited {self.rate_limit_wait:.1f} s"
        if self.rate_limit_paced >= 0.05:
            line += f" ({self.rate_limit_paced:.1f} s of it pacing before the limit)"
        return line

    # -- account and catalogues ----------------------------------------------------------------
    def account(self) -> dict:
        return self._get_one("account")["account"]

    def regions(self) -> list[dict]:
        return self._call("regions")["regions"]

    def balance(self) -> dict:
        """The account's balance: `month_to_date_usage` is what this month has cost so far."""
        return self._get_one("customers/my/balance")

    def sizes(self) -> list[dict]:
        return self._call("sizes")["sizes"]

    def images(self, image_type: str = "distribution") -> list[dict]:
        return self._call("images", params={"type": image_type})["images"]

    # -- ssh keys ----------------------------------------------------------------------------
    def ssh_keys(self) -> list[dict]:
        """All the account's keys. DigitalOcean allows only 10 of these listings a minute:
        look one key up with ssh_key() instead."""
        return self._call("account/keys")["ssh_keys"]

    def ssh_key(self, key_id_or_fingerprint: int | str) -> dict:
        """One key, by ID or fingerprint; NotFound if the account has no such key."""
        ref = quote(str(key_id_or_fingerprint), safe="")
        return self._get_one(f"account/keys/{ref}")["ssh_key"]

    def create_ssh_key(self, name: str, public_key: str) -> dict:
        data = self._call("account/keys", POST, {"name": name, "public_key": public_key})
        return data["ssh_key"]

    def delete_ssh_key(self, key_id_or_fingerprint: int | str) -> None:
        self._call(f"account/keys/{quote(str(key_id_or_fingerprint), safe='')}", DELETE)

    # -- tags --------------------------------------------------------------------------------
    def create_tag(self, name: str) -> dict:
        return self._call("tags", POST, {"name": name})["tag"]

    def tag_droplets(self, name: str, droplet_ids: list[int]) -> None:
        """Add a tag to droplets (DigitalOcean creates a tag on first use only in droplet
        creation, so the tag is created first; creating an existing tag is harmless)."""
        self.create_tag(name)
        resources = [{"resource_id": str(int(i)), "resource_type": "droplet"} for i in droplet_ids]
        self._call(f"tags/{quote(name, safe='')}/resources", POST, {"resources": resources})

    def delete_tag(self, name: str) -> None:
        self._call(f"tags/{quote(name, safe='')}", DELETE)

    # -- vpcs --------------------------------------------------------------------------------
    def vpcs(self) -> list[dict]:
        return self._call("vpcs")["vpcs"]

    def get_vpc(self, vpc_id: str) -> dict:
        return self._get_one(f"vpcs/{quote(vpc_id, safe='')}")["vpc"]

    def create_vpc(
        self, name: str, region: str, description: str = "", ip_range: str | None = None
    ) -> dict:
        params = {"name": name, "region": region, "description": description}
        if ip_range:
            params["ip_range"] = ip_range
        return self._call("vpcs", POST, params)["vpc"]

    def delete_vpc(self, vpc_id: str) -> None:
        self._call(f"vpcs/{quote(vpc_id, safe='')}", DELETE)

    # -- droplets ----------------------------------------------------------------------------
    def create_droplets(
        self,
        names: list[str],
        *,
        region: str,
        size: str,
        image: str,
        ssh_keys: list,
        tags: list[str],
        vpc_uuid: str | None = None,
        user_data: str | None = None,
    ) -> list[dict]:
        """Create droplets in batches of DigitalOcean's maximum, one request per batch."""
        created = []
        for start in range(0, len(names), MAX_DROPLETS_PER_CREATE):
            batch = names[start : start + MAX_DROPLETS_PER_CREATE]
            params = {
                "names": batch,
                "region": region,
                "size": size,
                "image": image,
                "ssh_keys": ssh_keys,
                "tags": tags,
                "monitoring": False,
                "ipv6": False,
            }
            if vpc_uuid:
                params["vpc_uuid"] = vpc_uuid
            if user_data:
                params["user_data"] = user_data
            created.extend(self._call("droplets", POST, params)["droplets"])
        return created

    def droplets(self, tag: str | None = None) -> list[dict]:
        params = {"tag_name": tag} if tag else {}
        return self._call("droplets", params=params)["droplets"]

    def get_droplet(self, droplet_id: int) -> dict:
        return self._get_one(f"droplets/{int(droplet_id)}")["droplet"]

    def delete_droplet(self, droplet_id: int) -> None:
        self._call(f"droplets/{int(droplet_id)}", DELETE)

    def droplet_action(self, droplet_id: int, action: str, *, wait: bool = False) -> dict:
        """Start an action (power_on, power_off...); with `wait`, poll it until it ends."""
        data = self._call(f"droplets/{int(droplet_id)}/actions", POST, {"type": action})
        result = data["action"]
        deadline = time.monotonic() + settings.PROVISION_BOOT_TIMEOUT
        while wait and result.get("status") == "in-progress":
            if time.monotonic() >= deadline:
                raise TransientError(f"droplet {droplet_id}: {action} still in progress")
            time.sleep(settings.PROVISION_POLL_INTERVAL)
            result = self._get_one(f"actions/{int(result['id'])}")["action"]
        if result.get("status") == "errored":
            raise PermanentError(f"droplet {droplet_id}: {action} errored in DigitalOcean")
        return result

    def delete_droplets_by_tag(self, tag: str) -> None:
        self._call(f"droplets?tag_name={quote(tag, safe='')}", DELETE)

    # -- firewalls ---------------------------------------------------------------------------
    def firewalls(self) -> list[dict]:
        return self._call("firewalls")["firewalls"]

    def create_firewall(
        self, name: str, *, tags: list[str], inbound_rules: list[dict], outbound_rules: list[dict]
    ) -> dict:
        params = {
            "name": name,
            "tags": tags,
            "inbound_rules": inbound_rules,
            "outbound_rules": outbound_rules,
        }
        return self._call("firewalls", POST, params)["firewall"]

    def update_firewall(self, firewall_id: str, **fields) -> dict:
        return self._call(f"firewalls/{quote(firewall_id, safe='')}", PUT, fields)["firewall"]

    def delete_firewall(self, firewall_id: str) -> None:
        self._call(f"firewalls/{quote(firewall_id, safe='')}", DELETE)


def public_ipv4(droplet: dict) -> str | None:
    return _ipv4(droplet, "public")


def private_ipv4(droplet: dict) -> str | None:
    return _ipv4(droplet, "private")


def _ipv4(droplet: dict, kind: str) -> str | None:
    for network in droplet.get("networks", {}).get("v4", []):
        if network.get("type") == kind:
            return network.get("ip_address")
    return None
