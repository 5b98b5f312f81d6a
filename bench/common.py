"""Shared bench plumbing: a throwaway database with Django set up on it, the lab check, and the
one-table-plus-summary output every script prints (bench/run_all.py collects it).

Django is configured here, before any app module is imported, so every script starts with
`with common.django_env("name"):` and imports the apps inside the block.
"""

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LAB_COMMANDS = ("ip", "sshd", "ssh-keygen", "lxc-start", "iptables", "nsenter", "curl")


class Skipped(Exception):
    """A part that cannot run here; the message says what it needs."""


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


def lab_problem() -> str | None:
    """Why the edge-host lab cannot run here, or None."""
    if os.environ.get("BENCH_SKIP_LAB") == "1":
        # The lab's namespaces, bridge and LXC are machine-wide: a bench must not start them
        # while lab tests run on the same machine.
        return "BENCH_SKIP_LAB=1 turns the lab parts off"
    if os.geteuid() != 0:
        return "the edge-host lab needs root (network namespaces, LXC, iptables)"
    missing = [
        c for c in LAB_COMMANDS if shutil.which(c) is None and not Path(f"/usr/sbin/{c}").exists()
    ]
    if missing:
        return f"the edge-host lab needs {', '.join(missing)} (run `make lab-deps`)"
    return None


def _create_pg_database(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _drop_pg_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def django_env(name: str, *, need_postgres: bool = False, **settings_env):
    """Django on a database made for this run and dropped after it: a PostgreSQL database next
    to DATABASE_URL's when that is a postgres URL, else a SQLite file in a temp directory.
    Never ./var: PORTAL_DATA_DIR (keys, SQLite) points at the temp directory too.
    Yields a short description of the database for the table header."""
    url = os.environ.get("DATABASE_URL", "")
    if need_postgres and not is_postgres(url):
        raise Skipped("needs PostgreSQL (set DATABASE_URL=postgres://user:pass@host:5432/db)")
    tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
    pg_name = f"bench_{name}_{os.getpid()}" if is_postgres(url) else None
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_DATA_DIR": tmp,
            # Job and request logs would interleave with the table; warnings still show.
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            **{k: str(v) for k, v in settings_env.items()},
        }
    )
    created = False
    try:
        if pg_name:
            os.environ["DATABASE_URL"] = _create_pg_database(url, pg_name)
            created = True
        else:
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        if pg_name:
            version = connection.cursor().connection.info.server_version
            described = f"PostgreSQL {version // 10000}.{version % 10000} (throwaway database)"
        else:
            described = "SQLite (throwaway file)"
        yield described
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if created:
            _drop_pg_database(url, pg_name)
        os.environ["DATABASE_URL"] = url
        shutil.rmtree(tmp, ignore_errors=True)


def bench_user(username: str = "bench", staff: bool = False):
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": staff, "is_superuser": staff}
    )
    return user


def machine() -> str:
    # The load average says whether other work shared the CPUs while this was measured.
    return (
        f"{os.cpu_count()} CPU, Python {platform.python_version()}, {platform.system()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


# -- output ----------------------------------------------------------------------------------
def table(title: str, headers: list[str], rows: list[list], notes: list[str] = ()) -> None:
    """One markdown table (the results file is markdown), with notes under it."""
    print(f"### {title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(_cell(v) for v in row) + " |")
    print()
    for note in notes:
        print(f"- {note}")
    if notes:
        print()
    sys.stdout.flush()


def summary(text: str) -> None:
    print(f"**Summary:** {text}")
    sys.stdout.flush()


def on_postgres(name: str, title: str, headers: list[str], labels: list[str], run) -> int:
    """A bench that needs PostgreSQL: run(database) in its Django environment, or its table
    saying why it was skipped (no DATABASE_URL)."""
    try:
        env = django_env(name, need_postgres=True)
        database = env.__enter__()
    except Skipped as exc:
        skipped(title, str(exc), headers, labels)
        return 0
    try:
        return run(database)
    finally:
        env.__exit__(*sys.exc_info())


def skipped(title: str, reason: str, headers: list[str], labels: list[str]) -> None:
    """The script's usual table with every figure "skipped", so the results file keeps its
    shape and says why."""
    rows = [[label] + ["skipped"] * (len(headers) - 1) for label in labels]
    table(title, headers, rows, [f"skipped: {reason}"])
    summary(f"SKIPPED: {reason}")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def median(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def wait_until(check, timeout: float, what: str, every: float = 0.1):
    """`check()`'s first true value, polled every `every` seconds for at most `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
