"""A read-only HTTP server for the image cache: the tarball, its .sha256, and /index.json.

Lab hosts download from it over the lab bridge, so `python -m lab.images serve --host 0.0.0.0`
(or 198.18.0.1) makes it reachable from them; tests start it in-process on a random port.
"""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lab.images.build import ImageInfo, cache_dir, load_cached


class ImageHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):
        if self.path.split("?")[0] == "/index.json":
            return self._index()
        name = self.path.lstrip("/").split("?")[0]
        # Only files that are part of the catalogue, never a directory listing.
        if "/" in name or not (name.endswith((".tar.gz", ".sha256")) or name == "metadata.json"):
            return self.send_error(404)
        return super().do_GET()

    def _index(self):
        info: ImageInfo | None = load_cached(Path(self.directory))
        host = self.headers.get("Host")
        images = []
        if info is not None:
            images.append(
                {
                    "name": info.name,
                    "version": info.version,
                    "arch": info.arch,
                    "os": "alpine",
                    "url": f"http://{host}/{info.filename}",
                    "sha256": info.sha256,
                    "size": info.size,
                }
            )
        payload = json.dumps({"images": images}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def make_server(host="127.0.0.1", port=8766, cache=None) -> ThreadingHTTPServer:
    handler = functools.partial(ImageHandler, directory=str(cache or cache_dir()))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_image_server(port=0, host="127.0.0.1", cache=None):
    """Serve in a background thread; returns (server, base url). Stop with server.shutdown()."""
    server = make_server(host, port, cache)
    threading.Thread(target=server.serve_forever, name="image-server", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"
