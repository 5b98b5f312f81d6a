"""README's production steps, run as written: the block between `<!-- production-steps -->`
marks, in bash, on a database made for it, with deploy/edge-core.env.example's environment
(its every variable, the values a test machine needs put in). Passes when the block's own last
line (curl until /readyz answers 200) does, and the portal then serves a page with its hashed
static files."""

import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
import requests
from cryptography.fernet import Fernet
from django.db import connection

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
STEPS = re.compile(
    r"<!-- production-steps -->\s*```sh\n(.*?)```\s*<!-- /production-steps -->", re.S
)


def readme_steps() -> str:
    found = STEPS.search((ROOT / "README.md").read_text())
    assert found, "README.md has no <!-- production-steps --> block"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_database():
    """A database of its own next to the test database, dropped after."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: CI's PostgreSQL pass runs it (DATABASE_URL)")
    url = os.environ["DATABASE_URL"]
    name = f"readme_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    url = os.environ.get("EDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0]
    url += "/14"  # a database of its own
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except redis.RedisError as exc:
        if os.environ.get("EDGE_LAB_REQUIRED") == "1":
            pytest.fail(f"needs Redis at {url}: {exc}")
        pytest.skip(f"needs Redis at {url}: {exc}")
    return url


def environment_file(tmp_path, database_url, redis_url, bind) -> Path:
    """deploy/edge-core.env.example, with this machine's database, Redis, address, data
    directory and secrets (made as README says) in place of its placeholders."""
    (tmp_path / "secret_key").write_text(os.urandom(32).hex())
    (tmp_path / "fernet_keys").write_text(Fernet.generate_key().decode())
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY_FILE": tmp_path / "secret_key",
        "FERNET_KEYS_FILE": tmp_path / "fernet_keys",
        "PORTAL_BIND": bind,
        "PORTAL_DATA_DIR": tmp_path / "data",
        "WEB_PROCESSES": "2",
        "Q_WORKERS": "2",
    }
    lines, seen = [], set()
    for line in (ROOT / "deploy" / "edge-core.env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        if not line.startswith("#") and "=" in line and name in values:
            line = f"{name}={values[name]}"
            seen.add(name)
        lines.append(line)
    assert seen == set(values), f"the example no longer sets {set(values) - seen}"
    path = tmp_path / "env"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_readmes_production_steps_make_a_ready_portal(tmp_path, fresh_database, redis_url):
    bind = f"127.0.0.1:{free_port()}"
    env_file = environment_file(tmp_path, fresh_database, redis_url, bind)
    # A fresh machine's environment: nothing of this test process's settings.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    script = tmp_path / "steps.sh"
    script.write_text("set -euo pipefail\n" + readme_steps())
    log = tmp_path / "steps.log"
    with log.open("wb") as output:  # a file: the servers it leaves running keep it open
        process = subprocess.Popen(
            ["bash", str(script)],
            cwd=ROOT,
            env={**clean, "EDGE_PORTAL_ENV": str(env_file)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the servers it leaves running are in its group
        )
    try:
        process.wait(timeout=240)
        out = log.read_text()
        assert process.returncode == 0, out[-4000:]
        ready = requests.get(f"http://{bind}/readyz", timeout=10).json()
        assert ready["status"] == "ready", ready
        assert ready["checks"]["broker"]["detail"] == "redis"
        assert ready["checks"]["database"]["detail"] == "postgresql"
        assert "Created operator account" in out

        # The example is production's: HTTPS only, and the host name it names.
        site = {"Host": "portal.example.com", "X-Forwarded-Proto": "https"}
        assert requests.get(f"http://{bind}/login/", timeout=10).status_code == 400
        login = requests.get(f"http://{bind}/login/", headers=site, timeout=10)
        assert login.status_code == 200
        css = re.search(r'href="(/static/css/[^"]+\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "no hashed static file on the login page (STATIC_MANIFEST)"
        asset = requests.get(f"http://{bind}{css.group(1)}", headers=site, timeout=10)
        assert asset.status_code == 200 and "max-age=315360000" in asset.headers["Cache-Control"]
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
