"""A read-only HTTP server for the image cache (stdlib only): GET or HEAD of /index.json (the
catalogue), the tarball, its .sha256 and metadata.json; 404 for any other name, no directory
listing, 501 for other methods.

The URLs in /index.json are built from the request's Host header, so the catalogue is right for
whoever asks: the test process on 127.0.0.1, or a lab host (a network namespace on the lab bridge)
asking 198.18.0.1. For lab hosts, bind to 0.0.0.0 or 198.18.0.1 (which exists only once the lab
bridge does): `python -m lab.images serve --host 0.0.0.0 --port 8766` (what `python -m lab up`
runs).
"""

import json
import logging
import os
import shutil
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lab.images.build import cache_dir
from lab.images.catalog import index, listed_image, served_files

log = logging.getLogger(__name__)

CONTENT_TYPES = {".gz": "application/gzip", ".xz": "application/x-xz", ".json": "application/json"}


class ImageRequestHandler(BaseHTTPRequestHandler):
    server_version = "edge-lab-images/1"
    cache: Path  # set on the subclass make_server creates

    def do_GET(self):
        self._respond(send_body=True)

    def do_HEAD(self):
        self._respond(send_body=False)

    def _respond(self, send_body: bool) -> None:
        name = self.path.split("?", 1)[0].lstrip("/")
        info = listed_image(self.cache)
        images = [info] if info else []
        if name == "index.json":
            bound_host, bound_port = self.server.server_address[:2]
            host = self.headers.get("Host") or f"{bound_host}:{bound_port}"
            body = json.dumps(index(images, f"http://{host}"), indent=2).encode()
            return self._send(body, "application/json", send_body)
        if name not in served_files(images):
            return self.send_error(HTTPStatus.NOT_FOUND)
        path = self.cache / name
        try:
            handle = open(path, "rb")
        except OSError:
            return self.send_error(HTTPStatus.NOT_FOUND)
        with handle:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", _content_type(name))
            self.send_header("Content-Length", str(os.fstat(handle.fileno()).st_size))
            self.end_headers()
            if send_body:
                shutil.copyfileobj(handle, self.wfile, 1 << 20)

    def _send(self, body: bytes, content_type: str, send_body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        log.info("%s %s", self.address_string(), format % args)


def _content_type(name: str) -> str:
    if name.endswith(".sha256"):
        return "text/plain; charset=utf-8"
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def make_server(host: str = "127.0.0.1", port: int = 8766, cache=None) -> ThreadingHTTPServer:
    handler = type("Handler", (ImageRequestHandler,), {"cache": Path(cache or cache_dir())})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_image_server(port: int = 0, host: str = "127.0.0.1", cache=None):
    """Serve the cache from a background thread; returns (server, base URL). Stop it with
    server.shutdown(); server.server_close()."""
    server = make_server(host, port, cache)
    threading.Thread(target=server.serve_forever, name="image-server", daemon=True).start()
    reachable = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return server, f"http://{reachable}:{server.server_address[1]}"
