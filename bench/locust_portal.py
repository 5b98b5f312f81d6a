"""The users of bench/load.py: each requests one path again and again (no think time), as the
VM's owner, through a browser session (pages) or an API token (/api/). Loopback only."""

import os
from urllib.parse import urlsplit

from locust import FastHttpUser, constant, events, task


@events.test_start.add_listener
def _loopback_only(environment, **kwargs):
    host = urlsplit(environment.host or "").hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"bench/load.py loads this machine only, not {environment.host}")


class PortalUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.path = os.environ["LOAD_PATH"]
        if self.path.startswith("/api/"):
            self.headers = {"Authorization": f"Bearer {os.environ['LOAD_TOKEN']}"}
        else:
            self.headers = {"Cookie": f"sessionid={os.environ['LOAD_SESSION']}"}

    @task
    def read(self):
        # Non-2xx answers are failures (locust's default): the target error rate is 0.
        self.client.get(self.path, headers=self.headers, name=self.path)
