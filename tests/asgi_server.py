"""The portal's ASGI application (HTTP and the console WebSockets) served by uvicorn in a thread
of the test process, on the test database: Django's live_server speaks WSGI only."""

import socket
import threading
import time
import warnings
from contextlib import contextmanager


@contextmanager
def serving(host: str = "127.0.0.1"):
    import uvicorn

    from portal.asgi import application

    # portal.asgi silences this warning (WhiteNoise's static files) when first imported; pytest
    # restores its own filters around each test, so a test serving pages says it again.
    warnings.filterwarnings(
        "ignore", message="StreamingHttpResponse must consume synchronous iterators"
    )

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application, lifespan="off", log_level="warning", ws="auto", access_log=False
    )
    server = uvicorn.Server(config)
    # Signals stay the test runner's: uvicorn installs no handlers outside the main thread.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
