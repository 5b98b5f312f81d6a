"""Outbound URLs: the ones the portal fetches (marketplace indexes), the ones it tells a host to
fetch (images) and the ones it posts to (groups' webhooks). All may be typed by a user or come
from an index someone else serves, so all are checked here, and only here:

- http and https only, a host, no user name or password (`http://good@127.0.0.1/` tricks);
- every address the host name resolves to must be a public one: loopback, link-local (the
  cloud's metadata service at 169.254.169.254 / fd00:ec2::254 lives there), private, carrier-
  grade NAT, multicast, reserved and IPv4-mapped forms of those are refused, unless the operator
  lists the network in OUTBOUND_ALLOWED_NETWORKS (the lab lists its image server);
- the check is made on the address actually used, not on an earlier lookup, so a name that
  resolves to a public address for the check and to 127.0.0.1 for the connection (DNS
  rebinding) gets nowhere: `fetch` connects to the address it has just checked, and `pin`
  gives the checked addresses to the host's curl (`--resolve`);
- a refusal says "address not allowed" and a failed fetch says what failed on our side (HTTP
  status of an allowed host, "cannot connect"), never what answered, so the portal is no port
  scanner for whoever can type a URL.
"""

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util import connection

NOT_ALLOWED = "address not allowed"
SCHEMES = {"http": 80, "https": 443}
MAX_REDIRECTS = 5
TIMEOUT = (5, 60)

# NAT64's well-known prefix: 64:ff9b::a.b.c.d reaches a.b.c.d through a translator.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class URLRefused(ValidationError):
    """A URL the portal will neither fetch nor hand to a host."""

    def __init__(self, message: str):
        super().__init__(message, code="outbound_url")


class _Unresolvable(URLRefused):
    """No address to judge: fine for a URL being stored, a refusal for one about to be used."""


class FetchError(Exception):
    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot fetch {url}: {reason}")
        self.url, self.reason = url, reason


@dataclass(frozen=True)
class Target:
    """A URL taken apart, with the addresses it may be fetched from (checked)."""

    url: str  # canonical: scheme://host:port/path?query, what a host's curl is given
    host: str  # ASCII (IDNA), IPv6 without brackets
    port: int
    addresses: tuple[str, ...] = ()

    @property
    def is_literal(self) -> bool:
        return _literal(self.host) is not None

    def curl_resolve(self) -> str:
        """`--resolve` for curl: the host name pinned to the checked addresses ("" for a URL
        that names an address: curl then connects to exactly that one)."""
        if self.is_literal:
            return ""
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in self.addresses)
        return f"{self.host}:{self.port}:{pinned}"


def parse(url: str) -> Target:
    """The URL's scheme, host and port, or URLRefused; no name lookup."""
    if not isinstance(url, str) or not url:
        raise URLRefused("no URL")
    # Spaces, control characters and backslashes are read differently by different URL
    # parsers (ours, urllib3's, curl's): refuse them rather than guess which host is meant.
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url):
        raise URLRefused(f"{url!r}: spaces, control characters or backslashes in the URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise URLRefused(f"{url!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise URLRefused(f"{url!r}: only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise URLRefused(f"{url!r}: a user name or password in the URL is not allowed")
    if not parts.hostname:
        raise URLRefused(f"{url!r} has no host")
    try:
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise URLRefused(f"{url!r}: the host name is not valid") from None
    if not host:
        raise URLRefused(f"{url!r} has no host")
    port = port or SCHEMES[scheme]
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    canonical = f"{scheme}://{netloc}{parts.path or '/'}" + (
        f"?{parts.query}" if parts.query else ""
    )
    return Target(url=canonical, host=host, port=port)


def check_url(url: str) -> str:
    """The check for a URL about to be stored (admin, marketplace sync, export). Returns the
    URL unchanged. A host name that does not resolve now is accepted: there is no address to
    judge yet, and every fetch checks again (`fetch`, `pin`)."""
    target = parse(url)
    try:
        allowed_addresses(target.host, target.port)
    except _Unresolvable:
        pass
    return url


def pin(url: str) -> Target:
    """A URL a host will fetch: its checked addresses, for curl --resolve."""
    target = parse(url)
    try:
        addresses = allowed_addresses(target.host, target.port)
    except _Unresolvable:
        raise URLRefused(f"{target.host}: the host name does not resolve") from None
    return Target(url=target.url, host=target.host, port=target.port, addresses=addresses)


def allowed_addresses(host: str, port: int) -> tuple[str, ...]:
    """Every address `host` resolves to, if all are allowed; URLRefused otherwise."""
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise _Unresolvable(f"{host}: the host name does not resolve") from None
        addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise _Unresolvable(f"{host}: the host name does not resolve")
    # One refused address refuses the name: a name that is public and 127.0.0.1 at once is
    # an attempt, and which of them a client picks is not ours to decide.
    if not all(address_allowed(a) for a in addresses):
        raise URLRefused(f"{host}: {NOT_ALLOWED}")
    return tuple(addresses)


def _literal(host: str) -> str | None:
    """The address a host part names directly (`127.0.0.1`, `::1`), or None for a name. Other
    spellings (`2130706433`, `127.1`) are names here and the resolver reads them, as every
    client does, so the check still sees 127.0.0.1."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 on the wire
    if any(
        ip in network for network in _allowed_networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))
    ):
        return True
    if not _public(ip):
        return False
    embedded = _embedded_ipv4(ip)
    return embedded is None or _public(embedded)


def _public(ip) -> bool:
    # is_global is False for loopback, link-local, private (RFC 1918, ULA), 100.64.0.0/10,
    # documentation and benchmark ranges; multicast and reserved need saying.
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _embedded_ipv4(ip):
    """The IPv4 address a translating IPv6 address (6to4, NAT64) reaches."""
    if ip.version != 6:
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=8)
def _allowed_networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


# The portal's own fetches. The check sits in the connection itself: it asks the resolver once,
# checks every answer and connects to one of those addresses, so no later lookup can swap it.
class _CheckedConnect:
    def _new_conn(self):
        addresses = allowed_addresses(self._dns_host.strip("[]"), self.port)
        error = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
        # One message for refused, unreachable and timed out: telling them apart scans ports.
        raise NewConnectionError(self, "cannot connect") from error


class _CheckedHTTPConnection(_CheckedConnect, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnect, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def session() -> requests.Session:
    checked = requests.Session()
    # No proxy from the environment: through a proxy, the proxy would resolve and connect,
    # and the address checked here would not be the one used.
    checked.trust_env = False
    checked.mount("http://", CheckedAdapter())
    checked.mount("https://", CheckedAdapter())
    return checked


def fetch(url: str, timeout=TIMEOUT) -> requests.Response:
    """GET `url`, following up to MAX_REDIRECTS redirects, each checked like the first one.
    Raises FetchError; a response below 400 is returned with its body read."""
    current = url
    with session() as checked:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                parse(current)
                response = checked.get(current, timeout=timeout, allow_redirects=False)
            except URLRefused as exc:
                reason = exc.message if current == url else f"redirected: {exc.message}"
                raise FetchError(url, reason) from None
            except requests.exceptions.SSLError:
                raise FetchError(url, "TLS handshake or certificate failed") from None
            except requests.RequestException:
                raise FetchError(url, "cannot connect") from None
            if response.is_redirect:
                current = urljoin(current, response.headers["location"])
                response.close()
                continue
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code}")
            return response
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")


def post(url: str, body: bytes, headers: dict, timeout=TIMEOUT, verify=True) -> int:
    """POST `body` to `url` through the checked connection (webhooks). Redirects are not
    followed: the receiver is the URL its owner gave, and a 3xx is its answer. Returns the
    status code, the answer's body unread; raises FetchError when the address is refused or
    the request fails on our side. `verify`: True, or a CA bundle's path."""
    with session() as checked:
        checked.verify = verify
        try:
            parse(url)
            response = checked.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except URLRefused as exc:
            raise FetchError(url, exc.message) from None
        except requests.exceptions.SSLError:
            raise FetchError(url, "TLS handshake or certificate failed") from None
        except requests.exceptions.ReadTimeout:
            raise FetchError(url, "no answer in time") from None
        except requests.RequestException:
            raise FetchError(url, "cannot connect") from None
        response.close()
        return response.status_code


def validate_url(value: str) -> None:
    """For form fields (admin): the same check as every other stored URL."""
    check_url(value)
