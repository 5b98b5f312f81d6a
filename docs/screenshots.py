"""Take the docs' screenshots from the real pages: `.venv/bin/python docs/screenshots.py`.

The portal runs in this process on a throwaway SQLite database (nothing touches ./var), with a
DigitalOcean API simulator (lab/docsim) in place of DigitalOcean. A provision is deployed there
by its real deploy job, run inline: SSH key, VPC, droplets, firewall, all through the driver.
Only host configuration is stood in for, since without the edge-host lab nothing answers SSH:
each host is marked RUNNING with its droplet's size, as the set-up script reports it. An hour of
usage samples fills the hosts' graphs. Then Debian's Chromium (headless, a fresh profile)
opens the provision page logged in as the operator and saves docs/img/provision.png.
"""

import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "img" / "provision.png"
sys.path.insert(0, str(ROOT))

# The browser tests' Chromium and its flags (which keep it off Google's hosts).
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1150}
HOSTS = 3
SIZE = "s-2vcpu-4gb"  # 2 vCPU, 4 GiB: what the stand-in reports for each host


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="edge-portal-screenshots-"))
    try:
        sim = start_simulator()
        try:
            setup_django(workdir, sim.url)
            user, provision = sample_data()
            with serving() as base_url:
                shoot(base_url, user, f"/provisions/{provision.pk}/", OUTPUT, workdir)
        finally:
            sim.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


def start_simulator():
    from lab.docsim import start_in_thread

    return start_in_thread(port=0, boot_delay=0.5, vpc_member_linger=0.3)


def setup_django(workdir: Path, sim_url: str) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_DATA_DIR": str(workdir / "var"),
            "DIGITALOCEAN_API_URL": sim_url + "/v2/",
            "DIGITALOCEAN_BACKOFF": "0.05",
            "JOBS_SYNC": "true",  # the deploy job runs inline, on commit
            "MONITOR_ENABLED": "false",
            "PROVISION_POLL_INTERVAL": "0.2",
            "PROVISION_SSH_WAIT": "0",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def stand_in_for_host_configuration() -> None:
    """What DeployRun._configure_one records for a host the set-up script configured, without
    the SSH session the lab would give it."""
    from provisions.choices import HostProblem, HostState
    from provisions.models import Host
    from provisions.runs import DeployRun

    def configure_one(run, host, peers, vnis):
        fingerprint = run.provision.host_key_fingerprint
        run.rec.log(f"{host.name}: SSH connected, host key {fingerprint} verified")
        Host.objects.filter(pk=host.pk).update(
            state=HostState.RUNNING,
            cpu=2,
            memory_mb=4096 - 165,  # what the kernel leaves of a 4 GiB droplet
            hostconfig_version="docs",
            host_key_fingerprint=fingerprint,
            last_error="",
            problem=HostProblem.NONE,
        )
        run.evpn_configured.add(host.pk)
        run.rec.log(f"{host.name}: configured (2 CPU, 3931 MiB)")
        return None

    if not hasattr(DeployRun, "_configure_one"):
        raise SystemExit("provisions.runs.DeployRun._configure_one is gone: update this script")
    DeployRun._configure_one = configure_one


def sample_data():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from monitoring.models import HostSample
    from providers.models import Provider
    from providers.services import set_token
    from provisions import services
    from provisions.models import Provision

    stand_in_for_host_configuration()
    user = get_user_model().objects.create_superuser("admin", "", "screenshots")
    provider = Provider.objects.get(name="digitalocean-amsterdam")
    set_token(user, provider, "lab-token")  # the simulator's token
    provision = services.create_provision(
        user, provider=provider, name="edge-ams", host_count=HOSTS, size=SIZE
    )
    deadline = time.monotonic() + 120
    while provision.state != "RUNNING":
        if time.monotonic() > deadline or provision.state == "ERROR":
            raise SystemExit(f"provision is {provision.state}: {provision.error}")
        time.sleep(0.2)
        provision = Provision.objects.get(pk=provision.pk)

    now = timezone.now()
    samples = []
    for n, host in enumerate(provision.hosts.order_by("pk")):
        for i in range(120):  # an hour at the monitoring cycle's 30 s
            wave = math.sin((i + 17 * n) / 9)
            samples.append(
                HostSample(
                    host=host,
                    at=now - timedelta(seconds=30 * (119 - i)),
                    cpu_total_ticks=6000 * i,
                    cpu_idle_ticks=4800 * i,
                    cpu_percent=round(14 + 8 * n + 6 * wave, 1),
                    load1=round(0.3 + 0.2 * wave, 2),
                    memory_total_mb=3931,
                    memory_used_mb=int(900 + 250 * n + 120 * wave),
                    disk_total_mb=80_000,
                    disk_used_mb=4_100,
                )
            )
        host.monitored_at = now
        host.save(update_fields=["monitored_at"])
    HostSample.objects.bulk_create(samples)
    return user, provision


class serving:
    """The portal's ASGI application served by uvicorn in a thread of this process."""

    def __enter__(self) -> str:
        import uvicorn

        from portal.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(application, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def shoot(base_url: str, user, path: str, output: Path, workdir: Path) -> None:
    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import sync_playwright

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # Playwright's sync API runs an event loop in this thread; the server's ORM calls run in
    # uvicorn's thread, not this one.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(workdir / "chromium-profile"),  # a fresh profile, removed with workdir
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", *CHROMIUM_ARGS],
            viewport=VIEWPORT,
        )
        try:
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}]
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(base_url + path)
            page.wait_for_selector("#provision-state")
            # The hosts' graphs are drawn from the series API once the page has loaded.
            page.wait_for_selector(".sparkline canvas, .sparkline svg")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(output))
        finally:
            context.close()


if __name__ == "__main__":
    sys.exit(main())
