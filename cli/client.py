"""The CLI's one HTTP client: every `one*` command talks to the portal's API through it.

Configuration: `--url`/`PORTAL_URL` (default http://127.0.0.1:8000) and
`--token`/`PORTAL_TOKEN` (an API token from the portal's "API tokens" page).
"""

import argparse
import os
import sys
import time
from urllib.parse import quote

import requests

from core.ids import is_id

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = (5, 120)
# On 429 the CLI waits what the portal's Retry-After asks, this many times at most; a longer wait
# than RATE_LIMIT_MAX_WAIT (a blocked address, 10 minutes) fails at once with the portal's reason.
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT = 60


class CliError(Exception):
    """A failure to report as one line on stderr, exit status 1."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Client:
    sleep = staticmethod(time.sleep)  # tests replace it

    def __init__(self, url: str, token: str | None, prog: str = "portal"):
        if not token:
            raise CliError(
                "no API token: set PORTAL_TOKEN (create one on the portal's API tokens page) "
                "or pass --token"
            )
        self.prog = prog
        self.base = url.rstrip("/") + "/api/"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "edge-portal-cli",
            }
        )

    def request(self, method: str, path: str, **kwargs):
        # A 429 is answered before the portal acts (throttles run first), so even a POST is
        # safe to send again.
        for retries_left in range(RATE_LIMIT_RETRIES, -1, -1):
            response = self._send(method, path, **kwargs)
            wait = _retry_after(response)
            if response.status_code != 429 or not retries_left or wait > RATE_LIMIT_MAX_WAIT:
                break
            print(f"{self.prog}: rate limited by the portal; retrying in {wait} s", file=sys.stderr)
            self.sleep(wait)
        if response.status_code >= 400:
            raise CliError(_error_text(response), response.status_code)
        return response

    def _send(self, method: str, path: str, **kwargs):
        url = self.base + path.lstrip("/")
        try:
            return self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.ConnectionError:
            raise CliError(
                f"cannot reach the portal at {self.base} (is it running? PORTAL_URL?)"
            ) from None
        except requests.Timeout:
            raise CliError(f"the portal at {self.base} did not answer in time") from None

    def get(self, path, **params):
        return self.request("GET", path, params=params).json()

    def post(self, path, data=None):
        response = self.request("POST", path, json=data or {})
        return response.json() if response.content else None

    def put(self, path, data):
        return self.request("PUT", path, json=data).json()

    def delete(self, path):
        self.request("DELETE", path)

    def text(self, path) -> str:
        return self.request("GET", path, headers={"Accept": "*/*"}).text

    def resolve(self, collection: str, ref: str, kind: str) -> dict:
        """Find one object by ID or by name, as the document's commands accept both."""
        if is_id(ref):
            try:
                return self.get(f"{collection}/{int(ref)}/")
            except CliError as exc:
                if exc.status == 404:
                    raise CliError(f"{kind} {ref} not found", 404) from None
                raise
        found = self.get(f"{collection}/", name=ref)
        results = found.get("results", found) if isinstance(found, dict) else found
        if not results:
            raise CliError(f"{kind} {ref!r} not found")
        if len(results) > 1:
            ids = ", ".join(str(item["id"]) for item in results)
            raise CliError(f"{kind} name {ref!r} is ambiguous (IDs {ids}); use the ID")
        return results[0]

    def list_all(self, collection: str, **params) -> list[dict]:
        items, offset = [], 0
        while True:
            page = self.get(f"{collection}/", limit=500, offset=offset, **params)
            items += page["results"]
            if not page.get("next"):
                return items
            offset += 500


def _retry_after(response) -> int:
    # The portal sends whole seconds; the HTTP-date form or no header at all: a short pause.
    value = response.headers.get("Retry-After", "")
    return max(1, int(value)) if value.strip().isdigit() else 5


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    if response.status_code == 404:
        return "not found"
    return f"HTTP {response.status_code} from the portal"


def quoted(path_part) -> str:
    return quote(str(path_part), safe="")


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("PORTAL_URL", DEFAULT_URL),
        help="portal URL (env PORTAL_URL)",
    )
    parser.add_argument(
        "--token", default=os.environ.get("PORTAL_TOKEN"), help="API token (env PORTAL_TOKEN)"
    )
