"""A local stand-in for the DigitalOcean API v2 (`python -m lab.docsim`). Dev/test/demo only:
the apps never import it; they are pointed at it by `DIGITALOCEAN_API_URL`."""

import threading

import requests

from lab.docsim.options import Options
from lab.docsim.server import SimServer

__all__ = ["Options", "SimServer", "start_in_thread"]


class RunningSimulator:
    def __init__(self, server: SimServer):
        self.server = server
        self.url = server.url
        self.ca_file = str(server.ca_file) if server.ca_file else None
        self.thread = threading.Thread(target=server.serve_forever, name="docsim", daemon=True)
        self.thread.start()

    @property
    def cloud(self):
        return self.server.cloud

    @property
    def options(self):
        return self.server.options

    def set_faults(self, **faults):
        self.server.options.set_faults(**faults)

    def state_snapshot(self) -> dict:
        return self.server.cloud.snapshot()

    def state(self) -> dict:
        return requests.get(self.url + "/_sim/state", timeout=10).json()

    def spend(self, token: str, requests_made: int) -> None:
        """As if another client of `token` had just made this many requests."""
        self.server.limiter.spend(token, requests_made)

    def observe(self, observer) -> None:
        """Call `observer(exchange)` with every API request and its answer (server.Exchange)."""
        self.server.observers.append(observer)

    def reset(self):
        self.server.reset()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_in_thread(port: int = 0, lab_hosts=None, verbose=False, **options) -> RunningSimulator:
    """Run a simulator in this process (tests): `sim.url`, `sim.set_faults(...)`, `sim.stop()`."""
    opts = Options(port=port, **options)
    return RunningSimulator(SimServer(opts, lab_hosts=lab_hosts, verbose=verbose))
