"""The lab's package cache: Squid (a Debian package) on the lab bridge, so that vm droplets made
from the bare image install the user data's packages the way a fresh droplet does, from a Debian
mirror, through the only address they can reach (the lab machine, 198.18.0.1), with cloud-init's
`apt: proxy` pointing at it (lab.droplets.metadata.vendor_data). The mirror is the one this
machine's apt uses; a package fetched once is served from the cache afterwards.

Squid rather than apt-cacher-ng: apt-cacher-ng resolves mirror names by DNS only, and where the
mirror's name comes from /etc/hosts (as on this lab's machines) it answers 503 "Host not found".

    with AptCache(directory) as cache:      # root; the lab bridge is made if missing
        VmDroplets(..., variant="bare", apt_proxy=cache.url)
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

from lab.hosts import net
from lab.hosts.manager import BRIDGE

ADDRESS = "198.18.0.1"
PREFIX = 15
PORT = 3142
USER = "proxy"  # what the Debian package runs Squid as

CONFIG = """\
http_port {address}:{port}
acl lab src 198.18.0.0/15
http_access allow lab
http_access deny all
cache_dir ufs {directory}/cache 4000 16 256
maximum_object_size 512 MB
cache_mem 64 MB
refresh_pattern \\.deb$ 129600 100% 129600
refresh_pattern . 0 20% 4320
pid_filename {directory}/squid.pid
access_log stdio:{directory}/access.log
cache_log {directory}/cache.log
coredump_dir {directory}
cache_effective_user {user}
shutdown_lifetime 1 seconds
"""


class AptCacheError(RuntimeError):
    pass


class AptCache:
    def __init__(self, directory: str | Path, address: str = ADDRESS, port: int = PORT):
        self.directory = Path(directory)
        self.address, self.port = address, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> "AptCache":
        squid = shutil.which("squid") or "/usr/sbin/squid"
        if not Path(squid).exists():
            raise AptCacheError("the lab's package cache needs Squid (Debian package squid)")
        net.ensure_bridge(BRIDGE, f"{self.address}/{PREFIX}")
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "squid.conf"
        config.write_text(
            CONFIG.format(address=self.address, port=self.port, directory=self.directory, user=USER)
        )
        shutil.chown(self.directory, USER, USER)
        if not (self.directory / "cache").exists():
            made = subprocess.run(
                [squid, "-f", str(config), "-z", "-N"], capture_output=True, text=True, timeout=60
            )
            if made.returncode != 0:
                raise AptCacheError(
                    f"squid could not make its cache in {self.directory} (it runs as {USER}: "
                    f"every directory above must be searchable): {made.stderr.strip()[-500:]}"
                )
        with open(self.directory / "stderr", "ab") as stderr:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [squid, "-f", str(config), "-N"], stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AptCacheError(
                    f"squid exited ({self.process.returncode}); see {self.directory}/cache.log"
                )
            try:
                socket.create_connection((self.address, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AptCacheError(f"squid did not listen on {self.url} within 20 s")

    def served(self) -> dict:
        """What Squid's access log says it served so far: requests, those from its cache
        (hits), and bytes."""
        counts = {"requests": 0, "hits": 0, "bytes": 0}
        try:
            lines = (self.directory / "access.log").read_text().splitlines()
        except OSError:
            return counts
        for line in lines:
            fields = line.split()
            if len(fields) < 5:
                continue
            counts["requests"] += 1
            counts["hits"] += "HIT" in fields[3]
            counts["bytes"] += int(fields[4]) if fields[4].isdigit() else 0
        return counts

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> "AptCache":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
