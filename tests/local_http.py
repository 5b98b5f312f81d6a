"""A small HTTP server on a loopback address that answers set routes and records every request,
for tests that try to make the portal (or a host's curl) fetch what it must not."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What a scanned service might answer: no error message may ever contain it.
BANNER = "SSH-2.0-OpenSSH_secret-banner-7c1f"


class _Handler(BaseHTTPRequestHandler):
    routes: dict  # path -> (status, headers, body); set on the subclass `serve` makes
    seen: list
    host_headers: list

    def do_GET(self):
        self.seen.append(self.path)
        self.host_headers.append(self.headers.get("Host"))
        status, headers, body = self.routes.get(self.path, (418, {}, BANNER.encode()))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class Server:
    def __init__(self, httpd, seen, host_headers):
        self.httpd, self.seen, self.host_headers = httpd, seen, host_headers
        self.host, self.port = httpd.server_address[:2]

    def url(self, path="/") -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextmanager
def serve(routes=None, host="127.0.0.1", tls=None):
    """Routes not listed answer 418 with BANNER, like a service that is not an image server.
    `tls`: a server-side ssl.SSLContext, for https."""
    seen: list[str] = []
    host_headers: list[str] = []
    handler = type(
        "Handler",
        (_Handler,),
        {"routes": dict(routes or {}), "seen": seen, "host_headers": host_headers},
    )
    httpd = ThreadingHTTPServer((host, 0), handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(httpd, seen, host_headers)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def fake_dns(monkeypatch, answers: dict[str, list]):
    """Resolve the names in `answers` to the addresses listed; a list of lists gives one answer
    per lookup in turn (the last one repeats), as a rebinding DNS server would. Other names and
    numeric addresses go to the real resolver."""
    import socket

    real = socket.getaddrinfo
    lookups: dict[str, int] = {}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        turns = answers[host]
        if turns and isinstance(turns[0], list):
            addresses = turns[min(lookups.get(host, 0), len(turns) - 1)]
        else:
            addresses = turns
        lookups[host] = lookups.get(host, 0) + 1
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port = int(port or 0)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups
