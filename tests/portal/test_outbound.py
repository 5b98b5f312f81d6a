"""core.outbound: which URLs the portal fetches or hands to a host, tried with the attacks
(internal addresses, other schemes, DNS rebinding, redirects) against real local servers."""

import pytest

from core import outbound
from core.env import ImproperlyConfiguredEnv, env_networks
from tests.local_http import BANNER, fake_dns, serve

PUBLIC = "93.184.216.34"  # a global address; nothing here connects to it


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:22/",
        "http://[::1]/",
        "http://localhost:8000/",
        "http://169.254.169.254/metadata/v1/user-data",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://198.18.0.1:8766/index.json",  # the lab's image server, not allowed by default
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://2130706433/",  # 127.0.0.1 as one number: the resolver reads it so
        "http://127.1/",
        "http://0x7f000001/",
        "https://127.0.0.1./",
    ],
)
def test_internal_addresses_are_refused(url):
    with pytest.raises(outbound.URLRefused, match="address not allowed"):
        outbound.check_url(url)
    with pytest.raises(outbound.URLRefused, match="address not allowed"):
        outbound.pin(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
        ("ftp://images.example/a.tar", "only http and https"),
        ("dict://127.0.0.1:11211/stats", "only http and https"),
        ("//images.example/a.tar", "only http and https"),
        ("http://user:pw@images.example/a.tar", "user name or password"),
        ("http://images.example@127.0.0.1/", "user name or password"),
        ("http://127.0.0.1\\@images.example/", "backslashes"),
        ("http://images.example /a", "spaces"),
        ("http:///a.tar", "has no host"),
        ("http://images.example:99999/", "not a valid URL"),
        ("", "no URL"),
    ],
)
def test_other_schemes_and_ambiguous_urls_are_refused(url, message):
    with pytest.raises(outbound.URLRefused, match=message):
        outbound.check_url(url)


def test_a_name_resolving_to_loopback_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"images.test": ["127.0.0.1"], "both.test": [PUBLIC, "::1"]})
    for url in ("http://images.test/a.tar", "https://both.test/a.tar"):
        with pytest.raises(outbound.URLRefused, match=r"\.test: address not allowed"):
            outbound.check_url(url)


def test_a_public_name_is_pinned_to_the_addresses_checked(monkeypatch):
    fake_dns(monkeypatch, {"images.test": [PUBLIC, "2606:2800:220:1::1"]})
    assert outbound.check_url("https://images.test/a.tar") == "https://images.test/a.tar"
    target = outbound.pin("HTTPS://Images.Test/x/a.tar?v=1#frag")
    assert target.url == "https://images.test:443/x/a.tar?v=1"
    assert target.curl_resolve() == f"images.test:443:{PUBLIC},[2606:2800:220:1::1]"
    # A URL naming an address needs no pin: curl connects to exactly that address.
    assert outbound.pin(f"http://{PUBLIC}:8080/a").curl_resolve() == ""


def test_a_name_that_does_not_resolve_may_be_stored_but_not_fetched(monkeypatch):
    fake_dns(monkeypatch, {"gone.test": []})
    assert outbound.check_url("http://gone.test/a.tar") == "http://gone.test/a.tar"
    with pytest.raises(outbound.URLRefused, match="does not resolve"):
        outbound.pin("http://gone.test/a.tar")
    with pytest.raises(outbound.FetchError, match="does not resolve"):
        outbound.fetch("http://gone.test/a.tar")


def test_allowed_networks_let_the_lab_image_server_through_and_nothing_else(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["198.18.0.1/32"]
    outbound.check_url("http://198.18.0.1:8766/index.json")
    outbound.check_url("http://[::ffff:198.18.0.1]:8766/index.json")
    for url in ("http://198.18.0.2/", "http://127.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(outbound.URLRefused, match="address not allowed"):
            outbound.check_url(url)


def test_fetching_an_internal_service_says_address_not_allowed_and_never_connects():
    with serve() as service:
        with pytest.raises(outbound.FetchError) as open_port:
            outbound.fetch(service.url("/"))
        assert service.seen == []  # not even a connection reached it
    message = str(open_port.value)
    assert message == f"cannot fetch {service.url('/')}: 127.0.0.1: address not allowed"
    assert BANNER not in message and "418" not in message
    # A closed port answers the same: the portal is no port scanner.
    with pytest.raises(outbound.FetchError) as closed_port:
        outbound.fetch("http://127.0.0.1:9/")
    assert closed_port.value.reason == open_port.value.reason


def test_errors_from_an_allowed_host_name_the_status_not_what_answered(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with serve({"/index.json": (200, {}, b'{"images": []}')}) as server:
        assert outbound.fetch(server.url("/index.json")).json() == {"images": []}
        with pytest.raises(outbound.FetchError) as failed:
            outbound.fetch(server.url("/other"))
    assert failed.value.reason == "HTTP 418" and BANNER not in str(failed.value)
    with pytest.raises(outbound.FetchError) as closed:
        outbound.fetch("http://127.0.0.1:9/")
    assert closed.value.reason == "cannot connect"


def test_dns_rebinding_between_check_and_connect_is_refused(monkeypatch):
    """The name is public when the URL is stored, and 127.0.0.1 when it is fetched: the fetch
    checks the address it connects to, so it never connects."""
    with serve({"/index.json": (200, {}, b"{}")}) as service:
        lookups = fake_dns(monkeypatch, {"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
        url = f"http://rebind.test:{service.port}/index.json"
        outbound.check_url(url)  # stored: the name was public then
        with pytest.raises(outbound.FetchError, match="rebind.test: address not allowed"):
            outbound.fetch(url)
        assert service.seen == [] and lookups["rebind.test"] == 2


def test_the_connection_goes_to_the_address_checked_with_no_second_lookup(monkeypatch, settings):
    """Allowed at the one lookup the connection makes; a later answer (127.0.0.1) is never asked
    for, so it cannot be swapped in."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    with serve({"/index.json": (200, {}, b"{}")}, host="127.0.0.2") as mirror:
        lookups = fake_dns(monkeypatch, {"mirror.test": [["127.0.0.2"], ["127.0.0.1"]]})
        assert outbound.fetch(f"http://mirror.test:{mirror.port}/index.json").json() == {}
        assert mirror.seen == ["/index.json"] and lookups["mirror.test"] == 1


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{port}/", "redirected: 127.0.0.1: address not allowed"),
        ("http://[::ffff:127.0.0.1]:{port}/", "redirected: ::ffff:127.0.0.1: address not allowed"),
        ("http://169.254.169.254/metadata/v1/user-data", "redirected: 169.254.169.254: address"),
        ("file:///etc/passwd", "redirected: 'file:///etc/passwd': only http and https"),
        ("gopher://127.0.0.1:{port}/_x", "redirected: .*only http and https"),
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(settings, location, reason):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    with serve() as internal:
        target = location.format(port=internal.port)
        routes = {"/index.json": (302, {"Location": target}, b"")}
        with serve(routes, host="127.0.0.2") as mirror:
            with pytest.raises(outbound.FetchError, match=reason) as refused:
                outbound.fetch(mirror.url("/index.json"))
        assert mirror.seen == ["/index.json"] and internal.seen == []
    assert BANNER not in str(refused.value)


def test_redirects_within_allowed_hosts_are_followed_up_to_a_limit(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    routes = {
        "/old": (301, {"Location": "/new"}, b""),
        "/new": (200, {}, b'{"ok": true}'),
        "/loop": (302, {"Location": "/loop"}, b""),
    }
    with serve(routes) as server:
        assert outbound.fetch(server.url("/old")).json() == {"ok": True}
        with pytest.raises(outbound.FetchError, match="more than 5 redirects"):
            outbound.fetch(server.url("/loop"))


def test_allowed_networks_come_from_the_environment_and_a_typo_stops_the_portal(monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "198.18.0.1, 10.1.0.0/16,fd00::/8")
    assert env_networks("OUTBOUND_ALLOWED_NETWORKS") == ["198.18.0.1/32", "10.1.0.0/16", "fd00::/8"]
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "198.18.0.1/33")
    with pytest.raises(ImproperlyConfiguredEnv, match="is not a network"):
        env_networks("OUTBOUND_ALLOWED_NETWORKS")
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS")
    assert env_networks("OUTBOUND_ALLOWED_NETWORKS") == []


@pytest.fixture
def tls_mirror(settings, monkeypatch):
    """An https server for images.test on 127.0.0.1 (allowed), its certificate's CA trusted
    only where a test asks for it."""
    from lab.docsim.tls import make_certificate, server_context

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake_dns(monkeypatch, {"images.test": ["127.0.0.1"]})
    cert = make_certificate("images.test")
    with serve({"/index.json": (200, {}, b"{}")}, tls=server_context(cert)) as mirror:
        mirror.cert = cert
        yield mirror


def test_https_through_the_checked_connection_verifies_the_host_name(tls_mirror, monkeypatch):
    """The connection goes to the checked address while TLS still verifies the certificate for
    the URL's host name (SNI), not for the address."""
    real = outbound.session

    def trusting():
        checked = real()
        checked.verify = str(tls_mirror.cert)
        return checked

    monkeypatch.setattr(outbound, "session", trusting)
    assert outbound.fetch(f"https://images.test:{tls_mirror.port}/index.json").json() == {}
    with pytest.raises(outbound.FetchError, match="TLS handshake or certificate failed"):
        # The same server by its address: the certificate does not name 127.0.0.1.
        outbound.fetch(f"https://127.0.0.1:{tls_mirror.port}/index.json")


def test_https_to_an_untrusted_certificate_fails(tls_mirror):
    with pytest.raises(outbound.FetchError, match="TLS handshake or certificate failed"):
        outbound.fetch(f"https://images.test:{tls_mirror.port}/index.json")
    assert tls_mirror.seen == []
