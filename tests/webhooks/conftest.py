"""A webhook receiver: an HTTPS server on 127.0.0.1 (its self-signed certificate the portal's
WEBHOOK_CA_BUNDLE, its address allowed by OUTBOUND_ALLOWED_NETWORKS) that records each POST and
answers the statuses it is given in turn; and the group's people by role."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.groups import Membership, Role, personal_group


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    host: str
    port: int
    statuses: list = field(default_factory=lambda: [200])
    seen: list = field(default_factory=list)

    def url(self, path="/hook") -> str:
        return f"https://{self.host}:{self.port}{path}"

    def answer(self) -> int:
        # The statuses in turn, the last one repeated.
        return self.statuses[min(len(self.seen) - 1, len(self.statuses) - 1)]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.seen.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(receiver.answer())
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

    return Handler


@pytest.fixture
def receiver(settings):
    from lab.docsim.tls import make_certificate, server_context

    cert = make_certificate("127.0.0.1")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_CA_BUNDLE = str(cert)
    receiver = Receiver("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    httpd.daemon_threads = True
    httpd.socket = server_context(cert).wrap_socket(httpd.socket, server_side=True)
    receiver.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def people(owner, django_user_model):
    """Alice's group (she is its admin); bob a member, carol a viewer."""
    group = personal_group(owner)
    found = {"group": group, "alice": owner}
    for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
        found[name] = django_user_model.objects.create_user(name, password="x")
        Membership.objects.create(group=group, user=found[name], role=role)
    return found
