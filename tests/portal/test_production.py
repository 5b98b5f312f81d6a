"""The production commands' contracts: `serve` (uvicorn's options decided in one place) and
`runprod` (refuses SQLite and the ORM broker; starts one server and N workers)."""

import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.management.commands import runprod
from portal.management.commands.serve import uvicorn_argv


def test_serve_runs_uvicorn_on_the_asgi_application_with_the_portals_rules():
    argv = uvicorn_argv("127.0.0.1:8000", 4)
    assert argv[:4] == [sys.executable, "-m", "uvicorn", "portal.asgi:application"]
    assert argv[argv.index("--workers") + 1] == "4"
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--port" in argv
    # The client's address and scheme are decided by the portal's settings, not by uvicorn.
    assert "--no-proxy-headers" in argv and "--lifespan" in argv
    assert "--no-access-log" in uvicorn_argv("[::1]:8000", 1, access_log=False)
    assert uvicorn_argv("[::1]:8000", 1)[4:6] == ["--host", "::1"]
    assert uvicorn_argv("unix:/run/edge-portal/web.sock", 2)[4:6] == [
        "--uds",
        "/run/edge-portal/web.sock",
    ]


@pytest.mark.parametrize("bind", ["8000", "localhost:http"])
def test_serve_refuses_an_address_it_cannot_use(bind):
    with pytest.raises(CommandError, match="use HOST:PORT or unix:"):
        uvicorn_argv(bind, 1)


def test_runprod_refuses_sqlite_or_no_redis(settings):
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        with pytest.raises(CommandError, match="needs DATABASE_URL"):
            call_command("runprod")
    settings.DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
    settings.REDIS_URL = None
    with pytest.raises(CommandError, match="needs REDIS_URL"):
        call_command("runprod")


def test_runprod_starts_one_server_and_n_workers():
    commands = runprod.Command().commands("127.0.0.1:9000", processes=3, workers=2)
    assert commands == [
        ("web server", ["serve", "--bind", "127.0.0.1:9000", "--processes", "3"]),
        ("job worker 0", ["worker"]),
        ("job worker 1", ["worker"]),
    ]
