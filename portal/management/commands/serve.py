"""The production web server: uvicorn serving portal.asgi (HTTP/1.1 and WebSockets) in
--processes worker processes, which uvicorn's own supervisor restarts if one dies.

Why uvicorn alone rather than gunicorn with uvicorn workers: it speaks ASGI (WebSockets for
the consoles, through Django Channels next), since 0.30 it manages its worker processes itself
(restarting a dead one, stopping them in order on SIGTERM), and systemd restarts the whole
service; gunicorn would add a second process manager and its uvicorn worker class (a
separate package), for nothing the portal uses. Django's sync views run in a thread per request
under ASGI, one core per process: set --processes to the cores this machine gives the web.

The command replaces itself with uvicorn (exec), so systemd's signals reach uvicorn directly
and the app is imported by portal.asgi first (which turns persistent DB connections off there).
"""

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from core.env import env_int


def uvicorn_argv(bind: str, processes: int, access_log: bool = True) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", "portal.asgi:application"]
    if bind.startswith("unix:"):
        argv += ["--uds", bind.removeprefix("unix:")]
    else:
        host, sep, port = bind.rpartition(":")
        if not sep or not port.isdigit():
            raise CommandError(f"--bind {bind!r}: use HOST:PORT or unix:/path/to/socket")
        argv += ["--host", host.strip("[]"), "--port", port]
    argv += [
        "--workers",
        str(processes),
        # Django has no lifespan events; without this uvicorn logs that at every start.
        "--lifespan",
        "off",
        # The client address and scheme are the portal's to decide (TRUSTED_PROXY_COUNT,
        # SECURE_PROXY_SSL_HEADER): one rule, whatever server runs it.
        "--no-proxy-headers",
        "--no-server-header",
        # Requests in flight get this long to finish on SIGTERM (a deploy, a restart).
        "--timeout-graceful-shutdown",
        "20",
    ]
    if not access_log:
        argv.append("--no-access-log")
    return argv


class Command(BaseCommand):
    help = "Serve the portal with uvicorn (ASGI) in several processes: the production server."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=os.environ.get("PORTAL_BIND", "127.0.0.1:8000"),
            help="HOST:PORT or unix:/path (default PORTAL_BIND or 127.0.0.1:8000)",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=env_int("WEB_PROCESSES", os.cpu_count() or 1),
            help="uvicorn worker processes (default WEB_PROCESSES or the CPU count)",
        )
        parser.add_argument(
            "--no-access-log", action="store_true", help="no line per request (benchmarks)"
        )

    def handle(self, *args, bind, processes, no_access_log, **options):
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        argv = uvicorn_argv(bind, processes, access_log=not no_access_log)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - an argv list, no shell
